/** `submitJob` named a conversation that does not exist. */
export class ConversationNotFound extends Error {
  readonly _tag = "ConversationNotFound";
  override readonly name = "ConversationNotFound";

  constructor(readonly conversationId: string) {
    super(`No conversation with id ${conversationId}`);
  }
}

/** A `listJobs` cursor that this store did not hand out. */
export class InvalidCursor extends Error {
  readonly _tag = "InvalidCursor";
  override readonly name = "InvalidCursor";

  constructor(readonly cursor: string) {
    super(
      `cursor ${JSON.stringify(cursor)} is not one jobs.list handed out: pass a page's nextCursor as it came, or no ` +
        "cursor for the first page",
    );
  }
}

/** An idempotency key sent again with a different request (prompt, params, conversation or callback). */
export class IdempotencyConflict extends Error {
  readonly _tag = "IdempotencyConflict";
  override readonly name = "IdempotencyConflict";

  constructor(readonly key: string) {
    super(
      `Idempotency key ${JSON.stringify(key)} was already used with a different request (prompt, params, conversation, callbackUrl or priority)`,
    );
  }
}

/** One input of an all-or-nothing batch was refused, so none was stored; `index` is its place in the batch. */
export class BatchRejected extends Error {
  readonly _tag = "BatchRejected";
  override readonly name = "BatchRejected";

  constructor(
    readonly index: number,
    override readonly cause: ConversationNotFound | IdempotencyConflict,
  ) {
    super(`jobs.${index}: ${cause.message}`);
  }
}

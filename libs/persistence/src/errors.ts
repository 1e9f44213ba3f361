/** `submitJob` named a conversation that does not exist. */
export class ConversationNotFound extends Error {
  readonly _tag = "ConversationNotFound";
  override readonly name = "ConversationNotFound";

  constructor(readonly conversationId: string) {
    super(`Conversation ${conversationId} not found`);
  }
}

/** A `listJobs` cursor that this store did not hand out. */
export class InvalidCursor extends Error {
  readonly _tag = "InvalidCursor";
  override readonly name = "InvalidCursor";

  constructor(readonly cursor: string) {
    super(`Invalid cursor: ${JSON.stringify(cursor)}`);
  }
}

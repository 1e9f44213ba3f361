/**
 * The idempotency key a submission without one of its own takes in a call a follower forwarded with a call id
 * (`x-anvil-call-id`, fresh for each call it forwards): the item's place in the call (its tRPC batch index, and its
 * index in a `jobs.submitMany`) makes each job's key its own. A follower whose leader went away before it answered
 * sends the same call, with the same id, to the next leader: each submission then finds the job the first one made,
 * or makes it, never a second. Keys are matched within the owner's own jobs, as every idempotency key is.
 */
export const callKey = (callId: string, batchIndex: number | undefined, item?: number): string =>
  `anvil-call:${callId}:${batchIndex ?? 0}${item === undefined ? "" : `:${item}`}`;

/** `input`, with the call's key (see {@link callKey}) when it has no idempotencyKey and the call carries an id. */
export const withCallKey = <T extends { idempotencyKey?: string | undefined }>(
  input: T,
  callId: string | undefined,
  batchIndex: number | undefined,
  item?: number,
): T =>
  input.idempotencyKey !== undefined || callId === undefined
    ? input
    : { ...input, idempotencyKey: callKey(callId, batchIndex, item) };

/** A key for the idempotency of `jobs.submit` and `jobs.retry`; crypto.randomUUID needs a secure context, getRandomValues does not. */
const newKey = (): string =>
  crypto.randomUUID?.() ?? Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16)).join("");

/**
 * Idempotency keys for `jobs.submit` (or `jobs.retry`), one per send: sending the same request again after it got no answer (a
 * network error, a 503 that says it may still have been accepted) reuses that send's key, so the server returns
 * the job it may already have stored instead of making a second one. Once a send is answered, the next send of
 * the same request is a new job with a new key.
 */
export function submissionKeys() {
  // Every send still without an answer, not only the last: Retry on one card, then on another, then on the first
  // again (the network down meanwhile) is the first card's retry sent again, never a second new job.
  const unanswered = new Map<string, string>();
  return {
    /** The key to send `request` with. */
    keyFor(request: unknown): string {
      const text = JSON.stringify(request);
      let key = unanswered.get(text);
      if (key === undefined) unanswered.set(text, (key = newKey()));
      return key;
    },
    /** The send with `key` got its job: a later send, even of the same request, is a new one. */
    answered(key: string): void {
      for (const [request, unansweredKey] of unanswered) if (unansweredKey === key) unanswered.delete(request);
    },
  };
}

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
  let unanswered: { request: string; key: string } | null = null;
  return {
    /** The key to send `request` with. */
    keyFor(request: unknown): string {
      const text = JSON.stringify(request);
      if (unanswered?.request !== text) unanswered = { request: text, key: newKey() };
      return unanswered.key;
    },
    /** The send with `key` got its job: a later send, even of the same request, is a new one. */
    answered(key: string): void {
      if (unanswered?.key === key) unanswered = null;
    },
  };
}

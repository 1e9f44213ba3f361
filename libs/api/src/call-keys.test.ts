import { describe, expect, it } from "vitest";
import { callKey, withCallKey } from "./call-keys";

const ID = "0b0e8c1e-4b1e-4c5e-9d4f-0123456789ab";
const submission = (prompt: string): { prompt: string; idempotencyKey?: string } => ({ prompt });

describe("withCallKey", () => {
  it("gives a key-less submission the call's key, one per batch index and item", () => {
    const keys = [
      withCallKey(submission("a"), ID, 0).idempotencyKey,
      withCallKey(submission("a"), ID, 1).idempotencyKey,
      withCallKey(submission("a"), ID, 0, 0).idempotencyKey,
      withCallKey(submission("a"), ID, 0, 1).idempotencyKey,
      withCallKey(submission("a"), ID, 1, 0).idempotencyKey,
    ];
    expect(new Set(keys).size).toBe(5);
    expect(withCallKey(submission("a"), ID, undefined).idempotencyKey).toBe(callKey(ID, 0));
    // Sent again with the same id, the same keys.
    expect(withCallKey(submission("a"), ID, 1, 0).idempotencyKey).toBe(keys[4]);
  });

  it("leaves a submission's own key, and one without a call id, as they are", () => {
    const own = { ...submission("a"), idempotencyKey: "mine" };
    expect(withCallKey(own, ID, 0)).toBe(own);
    const none = submission("a");
    expect(withCallKey(none, undefined, 0)).toBe(none);
  });

  it("stays within the 200 characters an idempotency key may have", () => {
    expect(callKey(ID, 9_999, 999).length).toBeLessThanOrEqual(200);
  });
});

import { describe, expect, it } from "vitest";
import { submissionKeys } from "./submission-keys";

const request = { prompt: "a lighthouse", width: 512, height: 512, conversationId: "c1" };

describe("submissionKeys", () => {
  it("gives a send that got no answer the same key when it is sent again", () => {
    const keys = submissionKeys();
    const first = keys.keyFor(request);
    expect(keys.keyFor({ ...request })).toBe(first);
  });

  it("gives a new key once the send was answered, even for the same request", () => {
    const keys = submissionKeys();
    const first = keys.keyFor(request);
    keys.answered(first);
    expect(keys.keyFor(request)).not.toBe(first);
  });

  it("gives a changed request a new key", () => {
    const keys = submissionKeys();
    const first = keys.keyFor(request);
    expect(keys.keyFor({ ...request, prompt: "a lighthouse at dusk" })).not.toBe(first);
  });
});

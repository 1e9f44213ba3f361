import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { linkedSignal } from "./linked-signal";

describe("linkedSignal", () => {
  it("aborts with the long signal's reason, or the short one's, whichever comes first", () => {
    const long = new AbortController();
    const short = new AbortController();
    const a = linkedSignal(long.signal, short.signal);
    const b = linkedSignal(long.signal);
    short.abort("the call's own");
    expect(a.signal.reason).toBe("the call's own");
    expect(b.signal.aborted).toBe(false);
    long.abort("the term ended");
    expect(b.signal.reason).toBe("the term ended");
    expect(linkedSignal(long.signal).signal.reason).toBe("the term ended");
  });

  it("no longer follows the long signal once unlinked, and leaves nothing on it", () => {
    const long = new AbortController();
    const links = Array.from({ length: 1_000 }, () => linkedSignal(long.signal, new AbortController().signal));
    expect(getEventListeners(long.signal, "abort")).toHaveLength(1_000);
    for (const link of links) link.unlink();
    expect(getEventListeners(long.signal, "abort")).toHaveLength(0);
    long.abort();
    expect(links.some((link) => link.signal.aborted)).toBe(false);
  });
});

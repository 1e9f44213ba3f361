import { describe, expect, it } from "vitest";
import { Handovers } from "./handovers";

/** Whether `promise` has settled after the current turn and the immediates queued in it. */
const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe("Handovers", () => {
  it("lets a finished job's image go at once when nothing starts on its backend", async () => {
    const handovers = new Handovers(10_000);
    expect(await settled(handovers.whenSent(0, "a"))).toBe(true);
    handovers.started(1, "b");
    // Another backend's start does not hold it.
    expect(await settled(handovers.whenSent(0, "a"))).toBe(true);
  });

  it("holds the image until the backend's next job has sent its request", async () => {
    const handovers = new Handovers(10_000);
    handovers.started(0, "b");
    const waiting = handovers.whenSent(0, "a");
    expect(await settled(waiting)).toBe(false);
    // Another job's word does not release it.
    handovers.sent(0, "c");
    expect(await settled(waiting)).toBe(false);
    handovers.sent(0, "b");
    expect(await settled(waiting)).toBe(true);
    // The start is over: a later image goes at once.
    expect(await settled(handovers.whenSent(0, "b"))).toBe(true);
  });

  it("never holds a job behind its own start", async () => {
    const handovers = new Handovers(10_000);
    handovers.started(0, "a");
    expect(await settled(handovers.whenSent(0, "a"))).toBe(true);
  });

  it("follows the newest start on a backend, and keeps what already waits", async () => {
    const handovers = new Handovers(10_000);
    handovers.started(0, "b");
    const waiting = handovers.whenSent(0, "a");
    // b never sent (say its start was refused); c took the backend instead.
    handovers.started(0, "c");
    handovers.sent(0, "b");
    expect(await settled(waiting)).toBe(false);
    handovers.sent(0, "c");
    expect(await settled(waiting)).toBe(true);
  });

  it("lets the image go after the longest wait when the next request never goes out", async () => {
    const handovers = new Handovers(30);
    handovers.started(0, "b");
    const startedAt = performance.now();
    await handovers.whenSent(0, "a");
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(25);
    // A later send finds no one left to release.
    handovers.sent(0, "b");
    expect(await settled(handovers.whenSent(0, "b"))).toBe(true);
  });
});

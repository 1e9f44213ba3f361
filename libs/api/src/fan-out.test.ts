import { describe, expect, it } from "vitest";
import { FanOut } from "./fan-out";
import { Inbox } from "./inbox";

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("FanOut", () => {
  it("wakes in the order asked, a slice per turn, with other work of the event loop between slices", async () => {
    const fanOut = new FanOut(10);
    const woken: number[] = [];
    for (let i = 0; i < 35; i++) fanOut.wake(() => woken.push(i));
    // Work that arrives after the crowd was asked to wake (as a request would): it runs before the crowd is done.
    let seenByOther = -1;
    setImmediate(() => setImmediate(() => (seenByOther = woken.length)));
    while (woken.length < 35) await turn();
    expect(woken).toEqual(Array.from({ length: 35 }, (_, i) => i));
    expect(seenByOther).toBeGreaterThan(0);
    expect(seenByOther).toBeLessThan(35);
  });

  it("starts again after it ran dry", async () => {
    const fanOut = new FanOut(2);
    const woken: string[] = [];
    fanOut.wake(() => woken.push("a"));
    while (woken.length < 1) await turn();
    fanOut.wake(() => woken.push("b"));
    while (woken.length < 2) await turn();
    expect(woken).toEqual(["a", "b"]);
  });
});

describe("Inbox with a fan-out", () => {
  it("hands every item over in order, and a reader woken twice reads each once", async () => {
    const inbox = new Inbox<number>(undefined, new FanOut(1));
    const read: number[] = [];
    const reader = (async () => {
      while (read.length < 5) {
        const item = await inbox.next(1_000);
        if (item !== undefined) read.push(item);
      }
    })();
    await turn();
    for (let i = 0; i < 5; i++) inbox.push(i);
    inbox.wakeUp();
    await reader;
    expect(read).toEqual([0, 1, 2, 3, 4]);
  });

  it("ends a wait at once when its signal aborts", async () => {
    const controller = new AbortController();
    const inbox = new Inbox<number>(controller.signal, new FanOut());
    const waiting = inbox.next();
    controller.abort();
    await expect(waiting).resolves.toBeUndefined();
  });
});

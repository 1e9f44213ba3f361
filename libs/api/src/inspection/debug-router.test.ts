import { createActor, createMachine } from "xstate";
import { describe, expect, it } from "vitest";
import type { Context } from "../context";
import { EventHub } from "../event-hub";
import { debugRouter } from "../routers/debug";
import { Inspector } from "./inspector";

/** Something for the inspector to record: an actor of a one-state machine, inspected, started and sent an event. */
const recordSomething = (inspector: Inspector) => {
  const actor = createActor(createMachine({ on: { ping: {} } }), { inspect: inspector.observe }).start();
  actor.send({ type: "ping" });
  actor.stop();
};

/** The next item of `stream`, or "silent" when nothing comes within `ms`. */
const nextWithin = <T>(stream: AsyncIterator<T>, ms: number) =>
  Promise.race([stream.next(), new Promise<"silent">((resolve) => setTimeout(() => resolve("silent"), ms))]);

describe("debug.inspect", () => {
  it("ends the stream of an admin who is removed while it is open", async () => {
    const inspector = new Inspector();
    const events = new EventHub();
    const ctx = { user: { name: "carol", admin: true }, inspector, events } as unknown as Context;
    const stream = (await debugRouter.createCaller(ctx).inspect({}))[Symbol.asyncIterator]();
    recordSomething(inspector);
    expect(await nextWithin(stream, 1_000)).toMatchObject({ done: false });

    events.publish({ kind: "revoked", user: "carol" });
    recordSomething(inspector);
    // Whatever was already read may still go out; then the stream ends instead of following every user's jobs.
    let next = await nextWithin(stream, 1_000);
    while (next !== "silent" && !next.done) next = await nextWithin(stream, 1_000);
    expect(next).toEqual({ done: true, value: undefined });
    expect(events.subscribers).toBe(0);
  });

  it("goes on for an admin when another user is removed", async () => {
    const inspector = new Inspector();
    const events = new EventHub();
    const ctx = { user: { name: "carol", admin: true }, inspector, events } as unknown as Context;
    const stream = (await debugRouter.createCaller(ctx).inspect({}))[Symbol.asyncIterator]();
    events.publish({ kind: "revoked", user: "dave" });
    recordSomething(inspector);
    expect(await nextWithin(stream, 1_000)).toMatchObject({ done: false });
    await stream.return?.(undefined);
  });
});

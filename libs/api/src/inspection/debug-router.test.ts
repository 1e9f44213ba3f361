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

describe("debug.timeline", () => {
  it("says where the job's stream goes on from, as an id a restarted server refuses", async () => {
    const jobId = "5d6e7f80-91a2-4b3c-8d4e-5f60718293a4";
    const inspector = new Inspector();
    recordSomething(inspector);
    const service = { scheduler: { holds: () => true } };
    const ctx = { user: { name: "carol", admin: true }, inspector, service } as unknown as Context;
    const timeline = await debugRouter.createCaller(ctx).timeline({ jobId });
    expect(timeline.lastEventId).toBe(inspector.eventId(inspector.latestSeq));

    // The same number from another server process (a restart) names other events: that stream must reload.
    const restarted = new Inspector();
    for (let i = 0; i < 3; i++) recordSomething(restarted);
    expect(restarted.latestSeq).toBeGreaterThan(inspector.latestSeq);
    const again = { ...ctx, inspector: restarted, events: new EventHub() } as unknown as Context;
    const stream = (await debugRouter.createCaller(again).inspect({ jobId, lastEventId: timeline.lastEventId }))[
      Symbol.asyncIterator
    ]();
    await expect(stream.next()).rejects.toMatchObject({ code: "PRECONDITION_FAILED" });
  });
});

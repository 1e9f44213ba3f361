import { describe, expect, it } from "vitest";
import { MAX_LISTED_JOBS_PER_REQUEST, MAX_SUBSCRIPTIONS_PER_SOCKET } from "./request-limits";
import { wsClient } from "./testing/clients";
import { codeOf } from "./testing/fixtures";
import { recordJobEvents } from "./testing/job-events";
import type { EventRecorder } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitFor } from "./testing/wait";

describe("request limits", () => {
  const [pglite] = testDrivers();
  const server = useTestServer(pglite!);

  it("refuses a jobs.list batch that asks for more jobs than one reply may carry with a 413, and answers others meanwhile", async () => {
    const { url, trpc } = server();
    const calls = 50;
    const input = Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { limit: 500 }]));
    const huge = fetch(
      `${url}/trpc/${Array.from({ length: calls }, () => "jobs.list").join(",")}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
    );
    const [reply, status] = await Promise.all([huge, trpc.queue.status.query()]);
    expect(reply.status).toBe(413);
    const body = (await reply.json()) as { error: { message: string; data: { code: string } } };
    expect(body.error.data.code).toBe("PAYLOAD_TOO_LARGE");
    expect(body.error.message).toContain(String(MAX_LISTED_JOBS_PER_REQUEST));
    expect(status.queued).toBeGreaterThanOrEqual(0);

    const page = await fetch(
      `${url}/trpc/jobs.list,jobs.list?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { limit: 500 }, 1: { limit: 500 } }))}`,
    );
    expect(page.status).toBe(200);
  });

  it("counts a jobs.list batch written with percent-encoded names, or a trailing slash, as the calls it is", async () => {
    const { url } = server();
    // 1,500 jobs in all: one call missed leaves 1,000, which one request may ask for.
    const calls = 3;
    const input = Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { limit: 500 }]));
    for (const [name, separator, end] of [
      ["jobs%2Elist", ",", ""],
      ["jobs.list", "%2C", ""],
      // tRPC trims the slash and runs the calls.
      ["jobs.list", ",", "/"],
    ] as const) {
      const paths = Array.from({ length: calls }, () => name).join(separator) + end;
      const reply = await fetch(`${url}/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`);
      expect(reply.status, name).toBe(413);
    }
  });

  it("keeps the jobs.list calls one WebSocket message carries within the same bound, and gives it back after", async () => {
    const s = server();
    const socket = wsClient(s.url);
    try {
      // wsLink sends the calls of one tick as one message.
      const pages = await Promise.allSettled(
        Array.from({ length: 10 }, () => socket.client.jobs.list.query({ limit: 500 })),
      );
      const refused = pages.filter((page) => page.status === "rejected");
      expect(pages.length - refused.length).toBeGreaterThanOrEqual(1);
      expect(pages.length - refused.length).toBeLessThanOrEqual(MAX_LISTED_JOBS_PER_REQUEST / 500);
      for (const page of refused) {
        expect(codeOf(page.reason as never)).toMatchObject({ code: "TOO_MANY_REQUESTS", httpStatus: 429 });
        expect((page.reason as Error).message).toContain(String(MAX_LISTED_JOBS_PER_REQUEST));
      }
      const again = await Promise.all([1, 2].map(() => socket.client.jobs.list.query({ limit: 500 })));
      expect(again.every((page) => Array.isArray(page.items))).toBe(true);
    } finally {
      await socket.close();
    }
  });

  it("refuses one subscription more than a WebSocket connection may carry, and the connection's others go on", async () => {
    const s = server();
    const socket = wsClient(s.url);
    const recorders: EventRecorder[] = [];
    try {
      const before = s.anvil.events.subscribers;
      // wsLink sends what is asked in one tick as one message, and one message carries at most 50 calls.
      for (let i = 0; i < MAX_SUBSCRIPTIONS_PER_SOCKET; i++) {
        recorders.push(await recordJobEvents(s, socket.client, {}, { attached: i % 25 === 24 }));
      }
      await waitFor(
        () => s.anvil.events.subscribers === before + MAX_SUBSCRIPTIONS_PER_SOCKET,
        () =>
          `the subscriptions are attached (${s.anvil.events.subscribers - before}; ${recorders
            .map((r) => r.error()?.message)
            .filter(Boolean)
            .slice(0, 2)
            .join("; ")})`,
      );

      const extra = await recordJobEvents(s, socket.client, {}, { attached: false });
      await waitFor(() => extra.error() !== null, "the subscription over the limit is refused");
      expect(codeOf(extra.error() as never)).toMatchObject({ code: "TOO_MANY_REQUESTS", httpStatus: 429 });
      expect(extra.error()?.message).toContain(String(MAX_SUBSCRIPTIONS_PER_SOCKET));

      // The connection itself goes on: its queries are answered and its subscriptions still get events.
      expect(await socket.client.queue.status.query()).toMatchObject({ queued: 0 });
      const job = await s.trpc.jobs.submit.mutate({
        prompt: "past the subscription limit",
        steps: 1,
        width: 64,
        height: 64,
      });
      await recorders[0]!.untilStatus(job.id, "complete");
      expect(s.anvil.events.subscribers).toBe(before + MAX_SUBSCRIPTIONS_PER_SOCKET);

      // A slot given back is a slot again.
      recorders.pop()!.stop();
      await waitFor(
        () => s.anvil.events.subscribers === before + MAX_SUBSCRIPTIONS_PER_SOCKET - 1,
        "one subscription ended",
      );
      recorders.push(await recordJobEvents(s, socket.client, {}));
      expect(recorders.at(-1)!.error()).toBeNull();
    } finally {
      for (const recorder of recorders) recorder.stop();
      await socket.close();
    }
  }, 60_000);
});

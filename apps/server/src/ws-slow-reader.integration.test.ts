import type { Job } from "@anvil/job-machine";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { wsClient } from "./testing/clients";
import { quick } from "./testing/fixtures";
import { expectEachStatusOnce, recordJobEvents } from "./testing/job-events";
import type { ReceivedEvent } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

const BOUND = 256 * 1024;
/** Jobs submitted and cancelled per round: with the longest prompts, about 1.8 MB of events for each subscriber. */
const PER_ROUND = 200;
/** About 20 MB in all: far more than the kernel's buffers on loopback (a few MiB) and the bound together. */
const MOST_ROUNDS = 12;
const LONGEST_PROMPT = "slow reader ".repeat(333);

const allCancelled = (events: readonly ReceivedEvent[], jobs: readonly Job[]): boolean => {
  const cancelled = new Set(events.filter((e) => e.job.status === "cancelled").map((e) => e.job.id));
  return jobs.every((job) => cancelled.has(job.id));
};

describe.each(testDrivers())("a WebSocket whose client stops reading, on $kind", (driver) => {
  const warnings: string[] = [];
  // Told the moment the server closes a socket for falling behind: its client then has CLOSE_GRACE_MS to read.
  let onFellBehind = (): void => undefined;
  const logger = pino(
    { level: "warn" },
    {
      write: (line: string) => {
        const { msg } = JSON.parse(line) as { msg: string };
        warnings.push(msg);
        if (msg.includes("left more than")) onFellBehind();
      },
    },
  );
  // The stalled client cannot answer a ping: on a loaded machine the rounds took longer than the 25 s after which an
  // unanswered ping cuts it (1006), and the client's new socket, which reads, never fell behind.
  const server = useTestServer(driver, { logger, maxUnsentWebSocketBytes: BOUND, webSocketPingMs: 600_000 });
  const fellBehind = () => warnings.filter((msg) => msg.includes("left more than"));

  it("is closed with 1013 past its bound and resumes without missing a change, while a client that reads is untouched", async () => {
    const s = server();
    const stalled = wsClient(s.url);
    const reading = wsClient(s.url);
    try {
      // The jobs stay queued until each round cancels them: two status changes each, in the event log. Paused, not
      // behind a job that hangs, which times out on a loaded machine before the last round is cancelled.
      await s.trpc.queue.pause.mutate();
      const lagging = await recordJobEvents(s, stalled.client, {});
      const reader = await recordJobEvents(s, reading.client, {});
      const [paused, readingSocket] = [stalled.socket()!, reading.socket()!];
      const closed = new Promise<number>((resolve) => paused.once("close", resolve));
      paused.pause();
      // Its backlog, then the close frame behind it: read from the moment the server closes it, within its grace.
      // Not after the round that made it fall behind is read by the other client, which on a loaded machine can take
      // longer than the grace: the server then cuts the socket (1006), as it should a client that reads nothing.
      onFellBehind = () => paused.resume();

      const jobs: Job[] = [];
      for (let round = 0; round < MOST_ROUNDS && fellBehind().length === 0; round++) {
        const batch = await s.trpc.jobs.submitMany.mutate({
          jobs: Array.from({ length: PER_ROUND }, () => ({ prompt: LONGEST_PROMPT, ...quick })),
        });
        await Promise.all(batch.map((job) => s.trpc.jobs.cancel.mutate({ jobId: job.id })));
        jobs.push(...batch);
        await reader.until((events) => allCancelled(events, batch), `the reader has round ${round}`, 30_000);
      }
      expect(fellBehind(), `no socket was closed after ${jobs.length * 2} status changes`).toHaveLength(1);
      expect(await closed).toBe(1013);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toContain('anvil_subscriptions_fell_behind_total{transport="websocket"} 1');

      // wsLink opened another socket and resubscribed from the last event it delivered.
      await lagging.until((events) => allCancelled(events, jobs), "the stalled client has every change", 30_000);
      expect(stalled.socket()).not.toBe(paused);
      for (const job of jobs) {
        expectEachStatusOnce(lagging.events, job.id, ["queued", "cancelled"]);
        expectEachStatusOnce(reader.events, job.id, ["queued", "cancelled"]);
      }
      expect(lagging.error()).toBeNull();
      expect(reader.error()).toBeNull();
      expect(reading.socket()).toBe(readingSocket);
      expect(readingSocket.readyState).toBe(WebSocket.OPEN);
      expect(fellBehind()).toHaveLength(1);
      lagging.stop();
      reader.stop();
    } finally {
      onFellBehind = () => undefined;
      await Promise.all([stalled.close(), reading.close()]);
      await s.trpc.queue.resume.mutate();
    }
  }, 120_000);
});

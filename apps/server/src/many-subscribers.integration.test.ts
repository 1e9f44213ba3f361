import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { httpClient, wsClient } from "./testing/clients";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { derivedJobs, eventsOf, expectEachStatusOnce, recordJobEvents } from "./testing/job-events";
import type { EventRecorder } from "./testing/job-events";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitFor } from "./testing/wait";

const SSE_SUBSCRIBERS = 100;
const WS_SUBSCRIBERS = 100;
const SOCKETS = 10;

describe.each(testDrivers())("a crowd of unfiltered jobs.events subscribers on $kind", (driver) => {
  const server = useTestServer(driver);

  it("gives each of hundreds of SSE and WebSocket subscribers every status change once and in order, and positions derived from line events that match jobs.get", async () => {
    const s = server();
    const sockets = Array.from({ length: SOCKETS }, () => wsClient(s.url));
    const sse = httpClient(s.url);
    const recorders: EventRecorder[] = [];
    try {
      const before = s.anvil.events.subscribers;
      for (let i = 0; i < SSE_SUBSCRIBERS; i++) recorders.push(await recordJobEvents(s, sse, {}, { attached: false }));
      for (let i = 0; i < WS_SUBSCRIBERS; i++) {
        // wsLink sends what is asked in one tick as one message (at most 50 calls): one tick per round of sockets.
        recorders.push(
          await recordJobEvents(s, sockets[i % SOCKETS]!.client, {}, { attached: i % SOCKETS === SOCKETS - 1 }),
        );
      }
      await waitFor(
        () => s.anvil.events.subscribers === before + recorders.length,
        "every subscription is attached",
        30_000,
      );
      const blocker = await occupyGpu(s);
      const jobs: Job[] = [];
      for (let i = 0; i < 8; i++)
        jobs.push(await s.trpc.jobs.submit.mutate({ prompt: uniquePrompt(`crowd ${i}`), ...quick }));
      // A cancel in the middle of the line, then at its head: every job behind moves up, twice.
      await s.trpc.jobs.cancel.mutate({ jobId: jobs[4]!.id });
      await s.trpc.jobs.cancel.mutate({ jobId: jobs[0]!.id });

      const truth = new Map(
        await Promise.all(
          jobs.map(async (job) => {
            const { status, queuePosition } = await s.trpc.jobs.get.query({ jobId: job.id });
            return [job.id, { status, queuePosition }] as const;
          }),
        ),
      );
      expect([...truth.values()].filter((job) => job.status === "queued").map((job) => job.queuePosition)).toEqual([
        1, 2, 3, 4, 5, 6,
      ]);
      for (const recorder of recorders) {
        await recorder.until(
          () => {
            const held = derivedJobs(recorder);
            return jobs.every((job) => {
              const [mine, real] = [held.get(job.id), truth.get(job.id)];
              return mine?.status === real?.status && mine?.queuePosition === real?.queuePosition;
            });
          },
          "the subscriber's derived positions match jobs.get",
          30_000,
        );
      }

      await s.trpc.jobs.cancel.mutate({ jobId: blocker.id });
      for (const recorder of recorders) {
        await recorder.until(
          () =>
            jobs.every((job) =>
              eventsOf(recorder.events, job.id).some((e) => e.job.status !== "queued" && e.job.status !== "processing"),
            ),
          "every job ends",
          30_000,
        );
      }
      for (const recorder of recorders) {
        for (const [i, job] of jobs.entries()) {
          expectEachStatusOnce(
            recorder.events,
            job.id,
            i === 0 || i === 4 ? ["queued", "cancelled"] : ["queued", "processing", "complete"],
          );
          // Positions came as line events: the one queued snapshot of each job is its submission.
          expect(eventsOf(recorder.events, job.id).filter((e) => e.job.status === "queued")).toHaveLength(1);
        }
      }
    } finally {
      for (const recorder of recorders) recorder.stop();
      await Promise.all(sockets.map((socket) => socket.close()));
    }
  }, 120_000);
});

import { isFinalStatus } from "@anvil/job-machine";
import type { Job, JobStatus } from "@anvil/job-machine";
import { TRPCClientError } from "@trpc/client";
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import type { TestServer } from "../testing/test-server";
import { pause, waitFor, waitForJob } from "../testing/wait";
import { statusTriples, subscribeAttached } from "./support/attached";

const RACES = 16;
/** A few sampling steps of 1 ms: the whole job takes a few tens of milliseconds. */
const racer = { ...quick, steps: 3 };

/** What one `jobs.cancel` call ended with. */
type CancelOutcome = { ok: true; job: Job } | { ok: false; code: unknown };

const cancel = (server: TestServer, jobId: string): Promise<CancelOutcome> =>
  server.trpc.jobs.cancel.mutate({ jobId }).then(
    (job) => ({ ok: true, job }),
    (error: unknown) => {
      if (error instanceof TRPCClientError) return { ok: false, code: codeOf(error as TRPCClientError<never>).code };
      throw error;
    },
  );

describe.each(testDrivers())("jobs.cancel racing with completion on $kind", (driver) => {
  const server = useTestServer(driver, { simulatorStepMs: 1 });
  const cleanups: (() => unknown)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  const idle = () =>
    waitFor(() => {
      const queue = server().anvil.service.scheduler.snapshot();
      return queue.processing === 0 && server().simulator.stats().active === 0;
    }, "the GPU is idle");

  it("ends each job in exactly one final state, persisted and published once, that jobs.get and every cancel agree with", async () => {
    const { trpc, anvil, simulator } = server();
    const watcher = await subscribeAttached(anvil.events, trpc);
    cleanups.push(() => watcher.stop());

    // How long a job takes here (warmed up), from submission to completion: where the cancels start.
    let window = 0;
    for (const label of ["warm-up", "timing"]) {
      const started = Date.now();
      const timed = await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`race ${label}`), ...racer });
      await waitForJob(trpc, timed.id, (job) => job.status === "complete");
      window = Date.now() - started;
    }

    // A staircase around the moment of completion: a cancel that won fires later next time, one that lost earlier,
    // and the step halves at each turn, so most races are run right where the two meet.
    let offset = window;
    let step = Math.max(1, Math.round(window / 4));
    let lastEnding: JobStatus | null = null;
    const raced: { job: Job; outcomes: CancelOutcome[]; final: Job }[] = [];
    for (let i = 0; i < RACES; i++) {
      await idle();
      const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`race ${i}`), ...racer });
      await pause(offset);
      // Two clients cancel at once, while the generation may be finishing.
      const outcomes = await Promise.all([cancel(server(), job.id), cancel(server(), job.id)]);
      const final = await waitForJob(trpc, job.id, (j) => isFinalStatus(j.status), "the job is final");
      raced.push({ job, outcomes, final });
      if (lastEnding !== null && lastEnding !== final.status) step = Math.max(1, Math.round(step / 2));
      lastEnding = final.status;
      offset = Math.max(0, final.status === "cancelled" ? offset + step : offset - step);
    }

    for (const { job, outcomes, final } of raced) {
      expect(["cancelled", "complete"]).toContain(final.status);
      for (const outcome of outcomes) {
        // A cancel that succeeded is the final state; one that lost to the completion is a CONFLICT.
        if (outcome.ok) expect([outcome.job.status, final.status]).toEqual(["cancelled", "cancelled"]);
        else expect([outcome.code, final.status]).toEqual(["CONFLICT", "complete"]);
      }
      expect(final.imageUrl === null).toBe(final.status === "cancelled");

      // The event log holds exactly one final status change, the last one, and the job row points at it.
      const log = await anvil.store.eventsAfter(0, { jobId: job.id }, 10);
      const statuses = log.map((event) => event.status);
      expect(statuses.filter((status) => isFinalStatus(status))).toEqual([final.status]);
      expect(statuses.at(-1)).toBe(final.status);
      expect((await anvil.store.getJob(job.id))?.lastEventId).toBe(log.at(-1)!.id);
      const message = (await trpc.messages.list.query({ conversationId: job.conversationId })).find(
        (m) => m.id === job.messageId,
      );
      expect(message?.metadata).toMatchObject({ status: final.status });
    }

    // Every subscriber heard each job's final status once, with the id the log gave it.
    const lastJob = raced.at(-1)!;
    await watcher.until(
      (events) => events.some((e) => e.job.id === lastJob.job.id && isFinalStatus(e.job.status)),
      "the last race is published",
    );
    for (const { job, final } of raced) {
      const finals = statusTriples(watcher.events).filter(
        ([, jobId, status]) => jobId === job.id && isFinalStatus(status as JobStatus),
      );
      const [logged] = (await anvil.store.eventsAfter(0, { jobId: job.id }, 10)).filter((e) => isFinalStatus(e.status));
      expect(finals).toEqual([[logged!.id, job.id, final.status]]);
    }

    // Both endings happened: the race was really run, on both sides of the completion.
    const endings = new Set(raced.map(({ final }) => final.status));
    expect([...endings].sort(), `window ${window} ms`).toEqual(["cancelled", "complete"]);
    expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1 });
  });
});

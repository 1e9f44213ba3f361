import { EventHub, JobService } from "@anvil/api";
import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { JobStore, lockEventOrder, openDatabase } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useCleanups } from "./support/cleanups";

/** What every refusal of a batch (`jobs.submitMany`) says, in place of the single job's "the job …". */
const BATCH_WORDING = /none of the jobs was accepted|the jobs may still be accepted/;

describe.each(testDrivers().filter((driver) => driver.kind === "postgres"))(
  "jobs.submitMany that the database takes longer than the submit deadline to store, on $kind",
  (driver) => {
    const cleanups = useCleanups(30_000);
    const deadlineMs = 300;

    /** A paused job service on a fresh database, its store made by `storeOf`, its submit deadline `deadlineMs`. */
    const pausedService = async (storeOf: (database: AnvilDatabase) => JobStore = (db) => new JobStore(db)) => {
      const test = await driver.create();
      cleanups.push(() => test.dispose());
      const database = await openDatabase({ url: test.databaseUrl! });
      cleanups.push(() => database.close());
      const simulator = await startForgeSimulator({ stepMs: 20 });
      cleanups.push(() => simulator.close());
      const service = await JobService.start({
        store: storeOf(database),
        events: new EventHub(),
        backends: [makeForgeClient({ baseUrl: simulator.url })],
        jobTimeoutMs: 20_000,
        imagesDir: `${test.dataDir}/images`,
        submitDeadlineMs: deadlineMs,
      });
      cleanups.push(() => service.stop(0, { abandon: true }));
      await service.setPaused(true);
      return { database, service };
    };

    it("is answered with its jobs, not a 503, while the database answers meanwhile", async () => {
      const { database, service } = await pausedService();
      // The database works on the batch for several deadlines: as with 1,000 jobs of 8 KB each, here because another
      // transaction holds the event-order lock the batch's statement waits for. Other statements are answered.
      let locked!: () => void;
      const lockTaken = new Promise<void>((resolve) => (locked = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holder = database.db.transaction(async (tx) => {
        await lockEventOrder(tx);
        locked();
        await released;
      });
      await lockTaken;
      const prompts = Array.from({ length: 50 }, (_, i) => `${uniquePrompt(`slow batch ${i}`)} ${"a".repeat(3_900)}`);
      const submitted = service.submitMany(prompts.map((prompt) => ({ prompt, ...DEFAULT_JOB_PARAMS, ...quick })));
      const answer = submitted.then(
        (jobs) => ({ jobs }),
        (error: unknown) => ({ error }),
      );
      await new Promise((resolve) => setTimeout(resolve, 5 * deadlineMs));
      release();
      await holder;

      const outcome = await answer;
      expect(outcome).toHaveProperty("jobs");
      const jobs = "jobs" in outcome ? outcome.jobs : [];
      expect(jobs.map((job) => job.prompt)).toEqual(prompts);
      expect(service.scheduler.snapshot().queued).toBe(prompts.length);
    });

    it("is refused as a batch, all or nothing, while the database does not answer", async () => {
      // A store whose every statement from now on hangs: the batch, and the question whether the database answers.
      let silent = false;
      let wake!: (error: Error) => void;
      const hang = new Promise<never>((_, reject) => (wake = reject));
      // Not unhandled when no statement was given it.
      hang.catch(() => undefined);
      class SilentStore extends JobStore {
        override submitJobsAtomically(...args: Parameters<JobStore["submitJobsAtomically"]>) {
          return silent ? hang : super.submitJobsAtomically(...args);
        }
        override takesWrites() {
          return silent ? hang : super.takesWrites();
        }
      }
      const { service } = await pausedService((database) => new SilentStore(database));
      // The lane waits for the hung statement: it fails before the service stops.
      cleanups.push(() => wake(new Error("the test is over")));
      silent = true;
      const refused = await service
        .submitMany([1, 2].map((i) => ({ prompt: uniquePrompt(`silent ${i}`), ...DEFAULT_JOB_PARAMS, ...quick })))
        .then(
          () => null,
          (error: unknown) => error as Error,
        );
      expect(refused).toMatchObject({ _tag: "Unavailable" });
      expect(refused?.message).toMatch(BATCH_WORDING);
      expect(refused?.message).toMatch(/idempotencyKey/);
    });
  },
);

import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import { JobStore } from "@anvil/persistence";
import type { SubmitJobInput, SubmitJobResult, SubmitOutcome } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { useCleanups } from "./support/cleanups";
import { startJobService } from "./support/job-service";

/** What postgres.js says when the connection goes while it waits for an answer (here: to its COMMIT). */
const connectionClosed = () =>
  Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), { code: "CONNECTION_CLOSED" });

/**
 * A real store on a real database, whose next answers can be lost on the way back: the work commits, then the
 * caller hears that the connection went, as when a connection dies between COMMIT and its reply.
 */
class LossyStore extends JobStore {
  loseSubmitAnswers = 0;
  /** Transactions begun so far. */
  transactions = 0;
  /** The number of the transaction whose answer is lost (after it committed). */
  loseTransaction: number | null = null;

  override async submitJobs(inputs: readonly SubmitJobInput[]): Promise<SubmitOutcome[]> {
    return this.maybeLost(await super.submitJobs(inputs));
  }

  /** The one-statement path new jobs take (submitJobs is for the rest). */
  override async submitNewJobs(inputs: readonly SubmitJobInput[]): Promise<SubmitJobResult[] | null> {
    return this.maybeLost(await super.submitNewJobs(inputs));
  }

  private maybeLost<T>(answer: T): T {
    if (this.loseSubmitAnswers > 0 && this.loseSubmitAnswers--) throw connectionClosed();
    return answer;
  }

  override async transaction<T>(work: (store: JobStore) => Promise<T>): Promise<T> {
    const n = ++this.transactions;
    const result = await super.transaction(work);
    if (n === this.loseTransaction) throw connectionClosed();
    return result;
  }
}

const input = (label: string, idempotencyKey?: string) => ({
  prompt: uniquePrompt(label),
  ...DEFAULT_JOB_PARAMS,
  ...quick,
  conversationId: undefined,
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

describe.each(testDrivers())("a lost acknowledgement, on $kind", (driver) => {
  const cleanups = useCleanups();

  const start = async () => {
    const simulator: ForgeSimulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    const { store, service, published } = await startJobService(driver, cleanups, {
      store: (database) => new LossyStore(database),
      backends: [makeForgeClient({ baseUrl: simulator.url })],
      probeIntervalMs: 100,
    });
    await waitFor(() => service.monitor.health().every((backend) => backend.healthy), "the backend is up");
    const statusOf = async (jobId: string) => (await store.getJob(jobId))?.status;
    return { store, service, simulator, published, statusOf };
  };

  it("runs a submission whose COMMIT succeeded although its client was told it failed", async () => {
    const { store, service, statusOf, published } = await start();
    store.loseSubmitAnswers = 1;
    const lost = input("answer lost");
    await expect(service.submit(lost)).rejects.toThrow(/not reachable/);
    const [stored] = (await store.listJobs({ limit: 10 })).items.filter((job) => job.prompt === lost.prompt);
    expect(stored).toBeDefined();
    await waitFor(async () => (await statusOf(stored!.id)) === "complete", "the stored submission runs");
    // Announced as it joined the line, first in it, though the free GPU took it at once.
    const queued = published.flatMap((m) =>
      m.kind === "status" && m.job.id === stored!.id && m.job.status === "queued" ? [m.job] : [],
    );
    expect(queued.map((job) => job.queuePosition)).toEqual([1]);
  }, 60_000);

  it("lets a resubmission with the same key find the stored job in the line, where cancel reaches it", async () => {
    const { store, service, statusOf } = await start();
    // Hold the GPU, so that the resubmitted job waits and can be cancelled there.
    const blocker = await service.submit(input("blocker sim:hang"));
    await waitFor(async () => (await statusOf(blocker.id)) === "processing", "the blocker runs");
    store.loseSubmitAnswers = 1;
    const lost = input("answer lost, then resubmitted", "key-" + uniquePrompt("k").slice(-12));
    await expect(service.submit(lost)).rejects.toThrow(/not reachable/);
    const again = await service.submit(lost);
    expect(again).toMatchObject({ status: "queued", queuePosition: 1 });
    expect((await service.cancel(again.id)).status).toBe("cancelled");
    expect(await statusOf(again.id)).toBe("cancelled");
    await service.cancel(blocker.id);
  }, 60_000);

  it("publishes every status event of a batch whose commit succeeded but whose answer was lost", async () => {
    const { store, service, published, statusOf } = await start();
    const blocker = await service.submit(input("blocker sim:hang"));
    await waitFor(async () => (await statusOf(blocker.id)) === "processing", "the blocker runs");
    const job = await service.submit(input("started and cancelled at once"));
    // The journal's lane is held: the blocker's cancellation, the job's start and its cancellation all wait, and
    // go to the database together, as one batch.
    let open: () => void = () => {};
    const held = service.scheduler.journal.run(() => new Promise<void>((resolve) => (open = resolve)));
    cleanups.push(async () => open());
    const cancels = [service.cancel(blocker.id).catch(() => undefined)];
    await waitFor(() => service.scheduler.status(job.id) === "processing", "the job is given the GPU");
    cancels.push(service.cancel(job.id).catch(() => undefined));
    await waitFor(() => service.scheduler.status(job.id) === undefined, "the job's actor is cancelled");
    // That batch commits, but its answer is lost.
    store.loseTransaction = store.transactions + 1;
    open();
    await held;
    await Promise.all(cancels);
    await service.scheduler.journal.flush();
    expect(await statusOf(job.id)).toBe("cancelled");
    const statuses = (jobId: string) =>
      published.flatMap((m) => (m.kind === "status" && m.job.id === jobId ? [m.job.status] : []));
    expect(statuses(blocker.id)).toEqual(["queued", "processing", "cancelled"]);
    expect(statuses(job.id)).toEqual(["queued", "processing", "cancelled"]);
  }, 60_000);
});

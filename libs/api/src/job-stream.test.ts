import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import { JobStore, toJob } from "@anvil/persistence";
import type { AnvilDatabase, JobRecord, Transition } from "@anvil/persistence";
import { describe, expect, it, vi } from "vitest";
import { LOCAL_USER } from "./caller";
import type { Context } from "./context";
import { FellBehind } from "./errors";
import { EventHub } from "./event-hub";
import type { JobService } from "./job-service";
import { jobEventStream, MAX_UNREAD } from "./job-stream";
import { useTestStore } from "./testing/test-store";

/** A real store that runs `between` (once) just before its second read of a job, as another writer could. */
class StoreWithWriterBetweenReads extends JobStore {
  private reads = 0;

  constructor(
    database: AnvilDatabase,
    private readonly between: () => Promise<void>,
  ) {
    super(database);
  }

  override async getJob(id: string): Promise<JobRecord | null> {
    if (++this.reads === 2) await this.between();
    return super.getJob(id);
  }
}

// The scheduler is not under test: a job it does not hold is answered as stored, at position 0.
const service: Pick<JobService, "toLiveJob" | "liveJob"> = {
  toLiveJob: (record) => toJob(record, 0),
  liveJob: () => undefined,
};

describe("jobEventStream", () => {
  const { database, store } = useTestStore();

  it("sends every status change that lands between reading the cursor and reading the job", async () => {
    const { job } = await store().submitJob({ prompt: "a barn", params: { ...DEFAULT_JOB_PARAMS, steps: 4 } });
    const events = new EventHub();
    const landed: number[] = [];
    // As the service does: each change is committed, then published.
    const land = async (transition: Omit<Transition, "jobId" | "snapshot">) => {
      const applied = await store().applyTransition({ ...transition, jobId: job.id, snapshot: (r) => toJob(r, 0) });
      if (!applied) throw new Error(`${transition.from} → ${transition.to} did not apply`);
      landed.push(applied.eventId);
      events.publish({ kind: "status", eventId: applied.eventId, job: applied.snapshot });
    };
    // The stream's first read checks that the job exists, then it reads the cursor; the second read (the current
    // snapshot) comes after the job was started and finished, both published.
    const racing = new StoreWithWriterBetweenReads(database(), async () => {
      await land({ from: "queued", to: "processing", patch: { startedAt: new Date(), attempts: 1 } });
      await land({ from: "processing", to: "complete", patch: { progress: 100, finishedAt: new Date() } });
    });
    const ctx = {
      user: LOCAL_USER,
      store: racing,
      service,
      events,
      database: "pglite",
      coalesceMs: 1,
    } as unknown as Context;
    const abort = new AbortController();

    const received: { id: string; status: string }[] = [];
    for await (const envelope of jobEventStream(ctx, { jobId: job.id }, abort.signal)) {
      const [id, sent] = envelope as unknown as [string, Job];
      received.push({ id, status: sent.status });
      if (sent.status === "complete") abort.abort();
    }

    expect(landed).toHaveLength(2);
    expect(received).toEqual([
      { id: String(landed[0]), status: "processing" },
      { id: String(landed[1]), status: "complete" },
    ]);
  });

  it("resumes a conversation's stream reading only that conversation's jobs, however many others wait", async () => {
    const params = { ...DEFAULT_JOB_PARAMS, steps: 4 };
    const { job: mine } = await store().submitJob({ prompt: "a barn", params });
    await store().submitJob({ prompt: "a barn at dusk", params, conversationId: mine.conversationId });
    for (let i = 0; i < 5; i++) await store().submitJob({ prompt: `elsewhere ${i}`, params });
    const read: JobRecord[] = [];
    // A real store that notes every job record it hands out.
    class NotingStore extends JobStore {
      override async activeJobs(): Promise<JobRecord[]> {
        const jobs = await super.activeJobs();
        read.push(...jobs);
        return jobs;
      }
      override async listJobs(input: Parameters<JobStore["listJobs"]>[0]): ReturnType<JobStore["listJobs"]> {
        const page = await super.listJobs(input);
        read.push(...page.items);
        return page;
      }
    }
    const ctx = {
      user: LOCAL_USER,
      store: new NotingStore(database()),
      service,
      events: new EventHub(),
      database: "pglite",
      coalesceMs: 1,
    } as unknown as Context;
    const abort = new AbortController();
    const lastEventId = String(await store().latestEventId());

    const received: string[] = [];
    const input = { conversationId: mine.conversationId, lastEventId };
    for await (const envelope of jobEventStream(ctx, input, abort.signal)) {
      const [, sent] = envelope as unknown as [string, Job];
      received.push(sent.prompt);
      if (received.length === 2) abort.abort();
    }

    expect(received).toEqual(["a barn", "a barn at dusk"]);
    expect(read.filter((job) => job.conversationId !== mine.conversationId).map((job) => job.prompt)).toEqual([]);
  });

  it("numbers the events after a resume past the lastEventId it was given, never again from .1", async () => {
    const params = { ...DEFAULT_JOB_PARAMS, steps: 4 };
    const { job: first } = await store().submitJob({ prompt: "a quay", params });
    await store().submitJob({ prompt: "a quay at noon", params, conversationId: first.conversationId });
    const ctx = {
      user: LOCAL_USER,
      store: store(),
      service,
      events: new EventHub(),
      database: "pglite",
      coalesceMs: 1,
    } as unknown as Context;
    /** The ids of the first two events a stream of the conversation sends. */
    const twoIds = async (lastEventId?: string): Promise<string[]> => {
      const abort = new AbortController();
      const ids: string[] = [];
      const input = { conversationId: first.conversationId, lastEventId };
      for await (const envelope of jobEventStream(ctx, input, abort.signal)) {
        ids.push((envelope as unknown as [string, Job])[0]);
        if (ids.length === 2) abort.abort();
      }
      return ids;
    };
    /** An id as its two whole numbers, as a client compares them ("7.10" after "7.9"). */
    const parts = (id: string): [number, number] => {
      const [major = "", minor = "0"] = id.split(".");
      return [Number(major), Number(minor)];
    };
    const after = (id: string, than: string): boolean => {
      const [[a, b], [c, d]] = [parts(id), parts(than)];
      return a > c || (a === c && b > d);
    };

    const fresh = await twoIds();
    const last = fresh[1]!;
    expect(after(last, fresh[0]!)).toBe(true);
    // Resumed from the last id seen, with nothing new since: the same jobs' snapshots again, under ids past it.
    const resumed = await twoIds(last);
    expect(resumed.map((id) => after(id, last))).toEqual([true, true]);
    expect(after(resumed[1]!, resumed[0]!)).toBe(true);
  });

  it("sends a coalesced progress change on time when the wall clock is set back meanwhile", async () => {
    const { job } = await store().submitJob({ prompt: "a clock", params: { ...DEFAULT_JOB_PARAMS, steps: 4 } });
    const events = new EventHub();
    // The read model, which a flush reads the job's latest progress from.
    let live: Job | undefined;
    const tracking: typeof service = { ...service, liveJob: () => live };
    const ctx = { user: LOCAL_USER, store: store(), service: tracking, events, database: "pglite", coalesceMs: 50 };
    const abort = new AbortController();
    const progress: number[] = [];
    const reading = (async () => {
      for await (const envelope of jobEventStream(ctx as unknown as Context, { jobId: job.id }, abort.signal)) {
        const [, sent] = envelope as unknown as [string, Job];
        progress.push(sent.progress);
        if (sent.progress === 40) abort.abort();
      }
    })();
    await vi.waitFor(() => expect(progress).toEqual([0]));
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    try {
      live = { ...toJob(job, 0), progress: 40 };
      events.publish({ kind: "progress", job: live });
      // The stream has taken the change in and set when its window ends.
      await new Promise((resolve) => setTimeout(resolve, 10));
      // An NTP step, or an operator setting the clock: an hour back while the change waits for its window.
      vi.setSystemTime(Date.now() - 3_600_000);
      await vi.waitFor(() => expect(progress).toEqual([0, 40]), { timeout: 1_000 });
    } finally {
      vi.useRealTimers();
      abort.abort();
      await reading;
    }
  });

  it("ends a stream whose reader reads nothing once it leaves too much unread, and keeps nothing of what came since", async () => {
    const { job } = await store().submitJob({ prompt: "a mill", params: { ...DEFAULT_JOB_PARAMS, steps: 4 } });
    const other = await store().submitJob({ prompt: "a dam", params: { ...DEFAULT_JOB_PARAMS, steps: 4 } });
    const events = new EventHub();
    const ctx = { user: LOCAL_USER, store: store(), service, events, database: "pglite", coalesceMs: 1 };
    const stream = jobEventStream(ctx as unknown as Context, { jobId: job.id }, new AbortController().signal);
    // Its first snapshot is read; then the reader stops, as a client whose socket is full does.
    expect(((await stream.next()).value as unknown as [string, Job])[1].id).toBe(job.id);
    const snapshot = (id: string, n: number): Job => ({ ...toJob(job, 0), id, progress: n % 100 });
    // Another job's changes, outside the filter, are not kept at all.
    for (let n = 0; n < 2 * MAX_UNREAD; n++) events.publish({ kind: "progress", job: snapshot(other.job.id, n) });
    const kept = events.subscribers;
    for (let n = 0; n <= MAX_UNREAD; n++) events.publish({ kind: "progress", job: snapshot(job.id, n) });
    expect(events.subscribers).toBe(kept);
    await expect(stream.next()).rejects.toBeInstanceOf(FellBehind);
    expect(events.subscribers).toBe(kept - 1);
  });
});

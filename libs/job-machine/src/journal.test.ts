import { describe, expect, it, vi } from "vitest";
import { Journal, LaneAbandoned, UNSTORABLE_RESULT_MESSAGE, WriteRejected } from "./journal";
import type { JournalEntry } from "./journal";
import type { JobStatus } from "./job";

const progress = (jobId: string, value: number): JournalEntry => ({ kind: "progress", jobId, progress: value });

/** A job's generation failed with `error` on backend 0. */
const failed = (jobId: string, error: string): JournalEntry => ({
  kind: "transition",
  jobId,
  from: "processing",
  to: "error",
  job: {
    jobId,
    attempt: 1,
    status: "error",
    backend: 0,
    progress: 40,
    result: null,
    error,
    cancelledBy: null,
    startedAt: 1,
    finishedAt: 2,
  },
});

/** A status change of `jobId` (what the job summary says besides its status does not matter to the journal). */
const moved = (jobId: string, from: JobStatus, to: JobStatus): JournalEntry => ({
  kind: "transition",
  jobId,
  from,
  to,
  job: { ...(failed(jobId, "") as Extract<JournalEntry, { kind: "transition" }>).job, status: to, error: null },
});

/** A journal whose writes are listed as `job:status` (or `job:progress`), one list per persist call. */
const listedWrites = (progressDelayMs: number) => {
  const written: string[][] = [];
  const journal = new Journal<null>({
    progressDelayMs,
    persist: async (entries) => {
      written.push(entries.map((e) => `${e.jobId}:${e.kind === "transition" ? e.to : "progress"}`));
      return entries.map(() => null);
    },
    publish: () => {},
  });
  return { journal, written };
};

/** Like PostgreSQL: a batch is all or nothing, text with a NUL byte is refused, an outage fails everything. */
const fakeDatabase = () => {
  const rows = new Map<string, string>();
  const db = {
    down: false,
    calls: 0,
    rows,
    persist: async (entries: readonly JournalEntry[]) => {
      db.calls++;
      if (db.down) throw new Error("connect ECONNREFUSED");
      for (const entry of entries) {
        const text = entry.kind === "transition" ? (entry.job.error ?? "") : "";
        if (text.includes("\u0000")) throw new Error("invalid byte sequence for encoding UTF8: 0x00");
      }
      for (const entry of entries) rows.set(entry.jobId, entry.kind === "transition" ? entry.to : "progress");
      return entries.map((entry) => entry.jobId);
    },
    isUnreachable: (error: unknown) => error instanceof Error && error.message.includes("ECONNREFUSED"),
  };
  return db;
};

describe("Journal", () => {
  it("says by its clock when the lane last moved: not since a write that hangs began, now once idle", async () => {
    let clock = 100;
    let answer: () => void = () => {};
    const journal = new Journal<null>({
      persist: (entries) => new Promise((resolve) => (answer = () => resolve(entries.map(() => null)))),
      publish: () => {},
      elapsed: () => clock,
    });
    const written = journal.record(progress("a", 10));
    clock = 30_100;
    expect(journal.lastProgressAt).toBe(100);
    answer();
    await written;
    await journal.flush();
    clock = 40_000;
    expect(journal.lastProgressAt).toBe(40_000);
  });

  it("retries a failed write and publishes once it succeeds", async () => {
    let calls = 0;
    const published: JournalEntry[] = [];
    const journal = new Journal<string>({
      persist: async (entries) => {
        if (++calls < 3) throw new Error("connection refused");
        return entries.map(() => "ok");
      },
      publish: (entry) => void published.push(entry),
    });
    await journal.record(progress("a", 10));
    expect(calls).toBe(3);
    expect(published).toEqual([progress("a", 10)]);
  });

  it("persists an entry recorded while the lane goes idle, without waiting for a later one", async () => {
    const published: string[] = [];
    const journal = new Journal<string>({
      persist: async (entries) => entries.map((entry) => entry.jobId),
      publish: (entry) => void published.push(entry.jobId),
    });
    // Recorded from the first entry's waiter: the lane has found nothing left but has not yet marked itself idle.
    const second = new Promise<void>((resolve) => {
      void journal.record(progress("a", 10)).then(() => journal.record(progress("b", 20)).then(resolve));
    });
    await second;
    expect(published).toEqual(["a", "b"]);
  });

  it("settles everything unwritten and stops retrying once abandoned", async () => {
    const db = fakeDatabase();
    db.down = true;
    const published: JournalEntry[] = [];
    let abandoned = 0;
    const journal = new Journal<string>({
      ...db,
      publish: (entry) => void published.push(entry),
      onAbandon: () => void abandoned++,
    });
    const first = journal.record(progress("a", 10));
    const second = journal.record(progress("b", 20));
    await vi.waitFor(() => expect(db.calls).toBeGreaterThan(1));
    journal.abandon();
    journal.abandon();
    // Told once, so that its owner can say the failing writes are no longer tried.
    expect(abandoned).toBe(1);
    await Promise.all([first, second]);
    await journal.flush();
    const calls = db.calls;
    db.down = false;
    expect(published).toEqual([]);
    expect(db.rows.size).toBe(0);
    expect(db.calls).toBe(calls);
  });

  it("refuses the tasks waiting in an abandoned lane, and every later one, without running them", async () => {
    const db = fakeDatabase();
    db.down = true;
    const journal = new Journal<string>({ ...db, publish: () => {} });
    void journal.record(progress("a", 10));
    const ran: string[] = [];
    const waiting = journal.run(async () => void ran.push("waiting"));
    await vi.waitFor(() => expect(db.calls).toBeGreaterThan(1));
    journal.abandon();
    await expect(waiting).rejects.toBeInstanceOf(LaneAbandoned);
    await expect(journal.run(async () => void ran.push("later"))).rejects.toBeInstanceOf(LaneAbandoned);
    db.down = false;
    await journal.flush();
    expect(ran).toEqual([]);
  });

  it("fails only its caller when a task throws before its first await", async () => {
    const { journal, written } = listedWrites(0);
    const thrown = journal.run(() => {
      throw new Error("thrown at once");
    });
    await expect(thrown).rejects.toThrow("thrown at once");
    await journal.record(moved("a", "queued", "processing"));
    expect(written).toEqual([["a:processing"]]);
  });

  it("goes on after a publish throws: every entry settles and the next ones are published", async () => {
    const published: JournalEntry[] = [];
    const failures: unknown[] = [];
    const journal = new Journal<string>({
      persist: async (entries) => entries.map(() => "ok"),
      publish: (entry) => {
        if (entry.jobId === "a") throw new Error("a listener failed");
        published.push(entry);
      },
      onPublishError: (error) => void failures.push(error),
    });
    await Promise.all([journal.record(progress("a", 10)), journal.record(progress("b", 20))]);
    await journal.record(progress("c", 30));
    expect(published).toEqual([progress("b", 20), progress("c", 30)]);
    expect(failures).toHaveLength(1);
  });

  it("coalesces waiting progress of one job to its latest value", async () => {
    const written: JournalEntry[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const journal = new Journal<number>({
      persist: async (entries) => {
        written.push([...entries]);
        await gate;
        return entries.map(() => 0);
      },
      publish: () => {},
    });
    void journal.record(progress("a", 10));
    void journal.record(progress("a", 20));
    void journal.record(progress("a", 30));
    release();
    await journal.flush();
    expect(written).toEqual([[progress("a", 10)], [progress("a", 30)]]);
  });

  describe("with a progress delay", () => {
    it("writes a status change ahead of waiting progress, and the progress once its delay is over", async () => {
      const { journal, written } = listedWrites(20);
      const progressed = journal.record(progress("a", 40));
      await journal.record(moved("b", "queued", "processing"));
      expect(written).toEqual([["b:processing"]]);
      await progressed;
      expect(written).toEqual([["b:processing"], ["a:progress"]]);
    });

    it("writes the progress of many jobs that waited together in one batch", async () => {
      const { journal, written } = listedWrites(20);
      await Promise.all([journal.record(progress("a", 1)), journal.record(progress("b", 2))]);
      expect(written).toEqual([["a:progress", "b:progress"]]);
    });

    it("drops waiting progress of a job that completes or goes back to the line: the change sets it", async () => {
      const { journal, written } = listedWrites(60_000);
      const first = journal.record(progress("a", 99));
      await journal.record(moved("a", "processing", "complete"));
      await first;
      const second = journal.record(progress("b", 30));
      await journal.record(moved("b", "processing", "queued"));
      await second;
      expect(written).toEqual([["a:complete"], ["b:queued"]]);
    });

    it("keeps waiting progress of a job that fails, and writes it in its order", async () => {
      const { journal, written } = listedWrites(60_000);
      void journal.record(progress("a", 70));
      await journal.record(moved("a", "processing", "error"));
      await journal.flush();
      expect(written).toEqual([["a:error"], ["a:progress"]]);
    });

    it("says that work waits for the lane: a task or a status change, progress only once it is due", async () => {
      vi.useFakeTimers();
      try {
        const { journal } = listedWrites(100);
        let lookedWhileRunning: boolean[] = [];
        const look = () =>
          journal.run(async () => void (lookedWhileRunning = [...lookedWhileRunning, journal.waiting]));
        await look();
        void journal.record(progress("a", 5));
        await look();
        const behind = journal.record(moved("b", "queued", "processing"));
        void look();
        const task = journal.run(async () => {});
        await Promise.all([behind, task]);
        expect(lookedWhileRunning).toEqual([false, false, true]);
        // The progress waits for its delay; once that has passed it is due, and a task running then yields to it.
        let dueWhileRunning: boolean | undefined;
        let release: () => void = () => {};
        const running = journal.run(
          () => new Promise<void>((resolve) => ((release = resolve), (dueWhileRunning = journal.waiting))),
        );
        await vi.advanceTimersByTimeAsync(0);
        expect(dueWhileRunning).toBe(false);
        await vi.advanceTimersByTimeAsync(150);
        expect(journal.waiting).toBe(true);
        release();
        await running;
        await journal.flush();
        expect(journal.waiting).toBe(false);
      } finally {
        vi.useRealTimers();
      }
    });

    it("flush writes waiting progress at once", async () => {
      const { journal, written } = listedWrites(60_000);
      void journal.record(progress("a", 5));
      await journal.flush();
      expect(written).toEqual([["a:progress"]]);
    });
  });

  it("publishes in the order entries were recorded", async () => {
    const published: number[] = [];
    const journal = new Journal<number>({
      persist: async (entries) => entries.map((e) => (e.kind === "progress" ? e.progress : -1)),
      publish: (_, value) => void published.push(value),
    });
    await Promise.all([1, 2, 3, 4].map((n) => journal.record(progress(`job-${n}`, n))));
    expect(published).toEqual([1, 2, 3, 4]);
  });

  it("fails only the job whose write the database refuses, and writes the rest of its batch", async () => {
    const db = fakeDatabase();
    const published: JournalEntry[] = [];
    const rejected: JournalEntry[] = [];
    const retries: unknown[] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const journal = new Journal<string>({
      persist: async (entries) => {
        await gate;
        return db.persist(entries);
      },
      isUnreachable: db.isUnreachable,
      publish: (entry) => void published.push(entry),
      onRejected: (error, entry) => {
        expect(error).toBeInstanceOf(WriteRejected);
        rejected.push(entry);
      },
      onRetry: (error) => void retries.push(error),
    });
    // The first write holds the lane, so the next three wait and go to the database as one batch.
    const first = journal.record(progress("a", 10));
    const rest = [failed("b", "backend said \u0000"), failed("c", "out of memory"), progress("a", 20)].map((e) =>
      journal.record(e),
    );
    release();
    await Promise.all([first, ...rest]);

    expect(rejected.map((entry) => entry.jobId)).toEqual(["b"]);
    expect(published.map((entry) => `${entry.jobId}:${entry.kind === "transition" ? entry.to : "progress"}`)).toEqual([
      "a:progress",
      "b:error",
      "c:error",
      "a:progress",
    ]);
    const b = published[1];
    expect(b?.kind === "transition" && b.job.error).toBe(UNSTORABLE_RESULT_MESSAGE);
    expect(db.rows.get("c")).toBe("error");
    expect(retries).toEqual([]);
    expect(journal.failing).toBe(false);
    // A later entry goes through at once: the lane is not stuck behind the refused write.
    await journal.record(progress("d", 5));
    expect(published.at(-1)).toEqual(progress("d", 5));
  });

  it("drops a progress value the database refuses and goes on", async () => {
    const rejected: JournalEntry[] = [];
    const published: JournalEntry[] = [];
    const journal = new Journal<number>({
      persist: async (entries) => {
        if (entries.some((e) => e.kind === "progress" && !Number.isFinite(e.progress))) {
          throw new RangeError("Invalid progress");
        }
        return entries.map(() => 0);
      },
      isUnreachable: () => false,
      publish: (entry) => void published.push(entry),
      onRejected: (_, entry) => void rejected.push(entry),
    });
    await Promise.all([journal.record(progress("a", Number.NaN)), journal.record(progress("b", 3))]);
    expect(rejected).toEqual([progress("a", Number.NaN)]);
    expect(published).toEqual([progress("b", 3)]);
  });

  it("retries a batch while the database is unreachable and writes all of it once it answers", async () => {
    const db = fakeDatabase();
    db.down = true;
    const retried: number[] = [];
    const journal = new Journal<string>({
      persist: db.persist,
      isUnreachable: db.isUnreachable,
      publish: () => {},
      onRetry: (_, attempt) => {
        retried.push(attempt);
        if (attempt === 2) db.down = false;
      },
      onRejected: () => {
        throw new Error("an outage is not a refused write");
      },
    });
    await Promise.all([journal.record(failed("a", "x")), journal.record(failed("b", "y"))]);
    expect(retried).toEqual([1, 2]);
    expect([...db.rows]).toEqual([
      ["a", "error"],
      ["b", "error"],
    ]);
  });
});

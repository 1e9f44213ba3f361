import { randomUUID } from "node:crypto";
import { DEFAULT_JOB_PARAMS, Journal } from "@anvil/job-machine";
import { ConversationNotFound, Fenced, toJob } from "@anvil/persistence";
import type { SubmitJobInput, SubmitJobResult, SubmitOutcome } from "@anvil/persistence";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Unavailable } from "./errors";
import { databaseDown, Submissions } from "./submissions";
import type { SubmissionsOptions } from "./submissions";
import { useTestStore } from "./testing/test-store";

const params = { ...DEFAULT_JOB_PARAMS, width: 512, height: 512, steps: 10 };
/** A prompt of this test run's own, so the shared database can be searched for it. */
const unique = (label: string): string => `${label} ${randomUUID()}`;
const input = (prompt: string, conversationId?: string): SubmitJobInput => ({
  prompt,
  params,
  ...(conversationId ? { conversationId } : {}),
});
const accept = ({ job, queuePosition }: SubmitJobResult) => toJob(job, queuePosition);

/** A promise and the function that settles it. */
function signal(): { promise: Promise<void>; fire: () => void } {
  let fire: () => void = () => {};
  const promise = new Promise<void>((resolve) => (fire = resolve));
  return { promise, fire };
}

describe("Submissions", () => {
  afterEach(() => void vi.useRealTimers());
  const { store } = useTestStore();
  /** The batches the real store was given, as prompts. */
  const batches: string[][] = [];
  const storeJobs = (inputs: readonly SubmitJobInput[]): Promise<SubmitOutcome[]> => {
    batches.push(inputs.map((i) => i.prompt));
    return store().submitJobs(inputs);
  };
  const storedPrompts = async (): Promise<string[]> =>
    (await store().listJobs({ limit: 500 })).items.map((job) => job.prompt);

  const submissions = (overrides: Partial<SubmissionsOptions>) =>
    new Submissions({
      run: (task) => task(),
      lastProgressAt: () => performance.now(),
      store: storeJobs,
      storeAll: (inputs) => store().submitJobsAtomically(inputs),
      acceptAll: (results) => results.map(accept),
      deadlineMs: 50,
      ...overrides,
    });

  it("stores the submissions that arrive together in one call, in order, each with its own outcome", async () => {
    const [one, lost, two] = [unique("one"), unique("lost"), unique("two")];
    // The lane is busy for a moment (as behind a write): all three are waiting when it gets to them.
    const s = submissions({ run: (task) => Promise.resolve().then(task) });
    const before = batches.length;
    const results = await Promise.allSettled([
      s.submit(input(one)),
      s.submit(input(lost, randomUUID())),
      s.submit(input(two)),
    ]);
    expect(batches.slice(before)).toEqual([[one, lost, two]]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.prompt : r.reason))).toEqual([
      one,
      expect.any(ConversationNotFound),
      two,
    ]);
    // Stored in the order they arrived, each its own job, the refused one not at all.
    const stored = await storedPrompts();
    expect(stored.filter((prompt) => [one, lost, two].includes(prompt))).toEqual([one, two]);
    const [first, second] = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(first?.status).toBe("queued");
    expect(second?.queuePosition).toBe(first!.queuePosition + 1);
  });

  it("refuses a submission stuck behind a lane that does not move, and never stores it", async () => {
    const lane = signal();
    let ran: Promise<void> | undefined;
    const since = performance.now();
    const late = unique("late");
    const s = submissions({
      run: (task) => (ran = lane.promise.then(task)),
      lastProgressAt: () => since,
    });
    const refused = s.submit(input(late));
    await expect(refused).rejects.toBeInstanceOf(Unavailable);
    await expect(refused).rejects.toThrow(/not accepted/);
    lane.fire();
    // The lane gets to the batch after all: the refused submission is no longer in it.
    expect(ran).toBeDefined();
    await ran;
    expect(await storedPrompts()).not.toContain(late);
  });

  it("refuses a submission behind a stuck lane within its deadline, though the wall clock was set back meanwhile", async () => {
    const journal = new Journal<null>({ persist: async (entries) => entries.map(() => null), publish: () => {} });
    const hung = signal();
    // A write that hangs: the lane stops moving.
    const stuck = journal.run(() => hung.promise);
    // An NTP step an hour back (only Date is faked; timers run as ever). Measured on the wall clock, the lane had
    // just moved for that hour, and the submission waited all of it.
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() - 3_600_000);
    const s = submissions({
      run: (task) => journal.run(task),
      lastProgressAt: () => journal.lastProgressAt,
      deadlineMs: 200,
    });
    const late = unique("late");
    await expect(s.submit(input(late))).rejects.toThrow(/not accepted/);
    hung.fire();
    await stuck;
    expect(await storedPrompts()).not.toContain(late);
  });

  it("refuses what waits in a lane abandoned at the end of its term, and takes new turns no more", async () => {
    // The journal of a leader cut off from the database: a write retried until the term ends.
    const journal = new Journal<null>({
      persist: () => Promise.reject(new Error("connect ECONNREFUSED")),
      publish: () => {},
      isUnreachable: () => true,
    });
    void journal.record({ kind: "progress", jobId: randomUUID(), progress: 10 });
    const [waiting, later] = [unique("waiting"), unique("later")];
    const s = submissions({
      run: (task) => journal.run(task),
      lastProgressAt: () => journal.lastProgressAt,
      deadlineMs: 60_000,
    });
    const refused = s.submit(input(waiting));
    journal.abandon();
    await expect(refused).rejects.toBeInstanceOf(Unavailable);
    await expect(refused).rejects.toThrow(/stopped running the queue.*not accepted/);
    await expect(s.submit(input(later))).rejects.toThrow(/stopped running the queue/);
    const stored = await storedPrompts();
    expect(stored).not.toContain(waiting);
    expect(stored).not.toContain(later);
  });

  it("keeps a submission waiting behind a lane that is busy but moving, past the deadline", async () => {
    const lane = signal();
    const fourDeadlines = signal();
    let checks = 0;
    const patient = unique("patient");
    const s = submissions({
      run: (task) => lane.promise.then(task),
      // Asked each time the deadline passes; the lane always moved just now.
      lastProgressAt: () => {
        if (++checks === 4) fourDeadlines.fire();
        return performance.now();
      },
    });
    const accepted = s.submit(input(patient));
    await fourDeadlines.promise;
    lane.fire();
    await expect(accepted).resolves.toMatchObject({ prompt: patient, status: "queued" });
    expect(await storedPrompts()).toContain(patient);
  });

  it("waits past the deadline for a batch the database works on, and for what waits behind it, while it answers", async () => {
    const [many, single] = [[1, 2, 3].map((i) => unique(`slow batch ${i}`)), unique("behind")];
    const stored = signal();
    let asked = 0;
    const since = performance.now();
    const s = submissions({
      run: (task) => Promise.resolve().then(task),
      // The lane moved last as they were submitted: only the batch in flight keeps the database busy.
      lastProgressAt: () => since,
      // Long enough that the batch is in flight when it first passes, on a machine busy with other work (at 100 ms
      // a loaded CI machine passed it before the lane had begun the batch, and the batch was refused as not sent).
      deadlineMs: 400,
      storeAll: async (inputs) => {
        await stored.promise;
        return store().submitJobsAtomically(inputs);
      },
      // The database answers another question meanwhile.
      answering: () => {
        if (++asked === 3) stored.fire();
        return Promise.resolve();
      },
    });
    const batch = s.submitAll(many.map((prompt) => input(prompt)));
    const behind = s.submit(input(single));
    await expect(batch).resolves.toMatchObject(many.map((prompt) => ({ prompt, status: "queued" })));
    await expect(behind).resolves.toMatchObject({ prompt: single, status: "queued" });
    expect(asked).toBeGreaterThanOrEqual(3);
  });

  it("refuses a batch in flight once the database does not answer, saying that its jobs may be stored", async () => {
    const since = performance.now();
    const s = submissions({
      run: (task) => Promise.resolve().then(task),
      lastProgressAt: () => since,
      deadlineMs: 100,
      storeAll: () => new Promise(() => undefined),
      answering: () => Promise.reject(new Error("connect ECONNREFUSED")),
    });
    await expect(s.submitAll([input(unique("lost 1")), input(unique("lost 2"))])).rejects.toThrow(
      /^The database did not answer in time; the jobs may still be accepted, all of them or none/,
    );
  });

  it("refuses a batch in flight that an answering database holds up past its patience", async () => {
    const since = performance.now();
    let asked = 0;
    const s = submissions({
      run: (task) => Promise.resolve().then(task),
      lastProgressAt: () => since,
      deadlineMs: 50,
      patienceMs: 200,
      // Held up for good (a lock never let go), while the database answers every question.
      storeAll: () => new Promise(() => undefined),
      answering: () => {
        asked++;
        return Promise.resolve();
      },
    });
    await expect(s.submitAll([input(unique("held 1")), input(unique("held 2"))])).rejects.toThrow(
      /^The database did not answer in time; the jobs may still be accepted, all of them or none/,
    );
    expect(asked).toBeGreaterThan(1);
  });

  it("refuses the batches waiting in the lane with words for a batch", async () => {
    const lane = signal();
    const s = submissions({ run: (task) => lane.promise.then(task), deadlineMs: 60_000 });
    const [single, batch] = [s.submit(input(unique("one"))), s.submitAll([input(unique("two"))])];
    s.refuseWaiting((notDone) => databaseDown(undefined, notDone));
    await expect(single).rejects.toThrow(/; the job was not accepted, try again/);
    await expect(batch).rejects.toThrow(/; none of the jobs was accepted, try again/);
    lane.fire();
  });

  it("refuses only the submission whose acceptance failed, and answers the others", async () => {
    const [good, bad] = [unique("good"), unique("bad")];
    const s = submissions({
      run: (task) => Promise.resolve().then(task),
      acceptAll: (results) => {
        if (results.some((result) => result.job.prompt === bad)) throw new Error("the scheduler has stopped");
        return results.map(accept);
      },
    });
    const results = await Promise.allSettled([s.submit(input(good)), s.submit(input(bad))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(results[1]).toMatchObject({ reason: new Error("the scheduler has stopped") });
  });

  /** `store().submitNewJobs`, counting the batches in flight at once and recording each batch's prompts. */
  const inOrder = () => {
    const sent: string[][] = [];
    let inFlight = 0;
    let most = 0;
    const storeNew = async (inputs: readonly SubmitJobInput[]) => {
      sent.push(inputs.map((i) => i.prompt));
      most = Math.max(most, ++inFlight);
      try {
        return await store().submitNewJobs(inputs);
      } finally {
        inFlight--;
      }
    };
    return { sent, storeNew, most: () => most };
  };

  it("keeps two batches in flight on the in-order connection, stored and answered in the order submitted", async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => unique(`burst ${i}`));
    const { sent, storeNew, most } = inOrder();
    const s = submissions({ storeNew, inFlight: 2, laneWaiting: () => false, deadlineMs: 5_000 });
    const jobs = await Promise.all(prompts.map((prompt) => s.submit(input(prompt))));
    // A burst is cut in two, so that the database stores one half while the other is answered.
    expect(sent).toEqual([prompts.slice(0, 8), prompts.slice(8)]);
    expect(most()).toBe(2);
    expect(jobs.map((job) => job.prompt)).toEqual(prompts);
    const first = jobs[0]!.queuePosition;
    expect(jobs.map((job) => job.queuePosition)).toEqual(prompts.map((_, i) => first + i));
    expect((await storedPrompts()).filter((prompt) => prompts.includes(prompt))).toEqual(prompts);
  });

  it("ends its turn of the lane after one batch when other work waits for the lane", async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => unique(`polite ${i}`));
    const { sent, storeNew, most } = inOrder();
    const firstStored = signal();
    let turns = 0;
    const s = submissions({
      run: (task) => {
        turns++;
        return Promise.resolve().then(task);
      },
      storeNew: async (inputs) => {
        const stored = storeNew(inputs);
        if (sent.length === 1) await firstStored.promise;
        return stored;
      },
      inFlight: 2,
      laneWaiting: () => true,
      deadlineMs: 5_000,
    });
    const first = prompts.slice(0, 8).map((prompt) => s.submit(input(prompt)));
    await vi.waitFor(() => expect(sent).toHaveLength(1));
    // Submitted while the first batch is in flight: with the lane free they would go at once (the test above).
    const second = prompts.slice(8).map((prompt) => s.submit(input(prompt)));
    firstStored.fire();
    const jobs = await Promise.all([...first, ...second]);
    expect(sent).toEqual([prompts.slice(0, 8), prompts.slice(8)]);
    expect(most()).toBe(1);
    expect(turns).toBe(2);
    expect(jobs.map((job) => job.prompt)).toEqual(prompts);
  });

  it("sends a batch the one statement cannot take the general way, once the batches in flight are answered", async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => unique(`mixed ${i}`));
    const { sent, storeNew } = inOrder();
    const general: string[][] = [];
    const s = submissions({
      storeNew,
      inFlight: 2,
      laneWaiting: () => false,
      deadlineMs: 5_000,
      store: (inputs) => {
        general.push(inputs.map((i) => i.prompt));
        return store().submitJobs(inputs);
      },
    });
    const results = await Promise.allSettled(
      prompts.map((prompt, i) => s.submit(input(prompt, i === 2 ? randomUUID() : undefined))),
    );
    expect(sent).toEqual([prompts.slice(0, 8), prompts.slice(8)]);
    // The first half named a conversation that does not exist: the one statement wrote nothing, the general path
    // refused that submission alone and stored the rest of its batch after the second half.
    expect(general).toEqual([prompts.slice(0, 8)]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.prompt : r.reason))).toEqual(
      prompts.map((prompt, i) => (i === 2 ? expect.any(ConversationNotFound) : prompt)),
    );
    const stored = (await storedPrompts()).filter((prompt) => prompts.includes(prompt));
    expect(stored).toEqual([...prompts.slice(8), ...prompts.slice(0, 8).filter((_, i) => i !== 2)]);
  });
});

describe("databaseDown", () => {
  const failed = (message: string, code: string) =>
    new Error("Failed query: insert into jobs … params: a prompt", {
      cause: Object.assign(new Error(message), { code }),
    });

  it("says the disk is full when it is, rather than that the database cannot be reached", () => {
    expect(databaseDown(failed("ENOSPC: no space left on device, write", "ENOSPC")).message).toMatch(
      /^The database cannot write right now: its disk is full/,
    );
    expect(databaseDown(failed("could not extend file: No space left on device", "53100")).message).toMatch(
      /its disk is full/,
    );
    expect(databaseDown(failed("connect ECONNREFUSED 127.0.0.1:5432", "ECONNREFUSED")).message).toMatch(
      /^The database is not reachable right now/,
    );
    expect(databaseDown().message).toMatch(/^The database is not reachable right now/);
  });

  it("says this server's term as the leader ended when its write was fenced, not that the database is away", () => {
    // As a stopped or stepped-down leader's store refuses a submission: the database answered, another server leads.
    const fenced = new Error("Failed query: select anvil_submit_jobs($1)", { cause: new Fenced(7) });
    expect(databaseDown(fenced).message).toBe(
      "This server no longer leads the cluster (another server took over); the job was not accepted, try again shortly",
    );
  });

  it("says the database is read-only when it refuses writes so", () => {
    const readOnly = failed("cannot execute INSERT in a read-only transaction", "25006");
    expect(databaseDown(readOnly).message).toBe(
      "The database takes no writes right now (it is read-only); the job was not accepted, try again shortly",
    );
  });
});

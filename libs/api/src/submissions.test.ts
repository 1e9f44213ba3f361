import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import { ConversationNotFound } from "@anvil/persistence";
import type { JobRecord, SubmitJobInput, SubmitJobResult } from "@anvil/persistence";
import { describe, expect, it, vi } from "vitest";
import { Unavailable } from "./errors";
import { Submissions } from "./submissions";
import type { SubmissionsOptions } from "./submissions";

const params = { ...DEFAULT_JOB_PARAMS, width: 512, height: 512, steps: 10 };
const input = (prompt: string, conversationId?: string): SubmitJobInput => ({
  prompt,
  params,
  ...(conversationId ? { conversationId } : {}),
});
const stored = (i: SubmitJobInput): SubmitJobResult => ({
  job: { id: `job-${i.prompt}`, prompt: i.prompt } as JobRecord,
  created: true,
  queuePosition: 1,
});
const accept = ({ job }: SubmitJobResult) => ({ id: job.id, prompt: job.prompt }) as Job;

function submissions(overrides: Partial<SubmissionsOptions>) {
  const store = vi.fn(async (inputs: readonly SubmitJobInput[]) => inputs.map(stored));
  const options: SubmissionsOptions = {
    run: (task) => task(),
    lastProgressAt: () => Date.now(),
    store,
    accept,
    deadlineMs: 50,
    ...overrides,
  };
  return { submissions: new Submissions(options), store: (overrides.store ?? store) as typeof store };
}

describe("Submissions", () => {
  it("stores the submissions that arrive together in one call, in order, each with its own outcome", async () => {
    const store = vi.fn(async (inputs: readonly SubmitJobInput[]) =>
      inputs.map((i) => (i.conversationId ? new ConversationNotFound(i.conversationId) : stored(i))),
    );
    // The lane is busy for a moment (as behind a write): all three are waiting when it gets to them.
    const { submissions: s } = submissions({ store, run: (task) => Promise.resolve().then(task) });
    const results = await Promise.allSettled([
      s.submit(input("one")),
      s.submit(input("lost", "no-such-conversation")),
      s.submit(input("two")),
    ]);
    expect(store).toHaveBeenCalledTimes(1);
    expect(store.mock.calls[0]?.[0].map((i) => i.prompt)).toEqual(["one", "lost", "two"]);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.id : r.reason.constructor.name))).toEqual([
      "job-one",
      "ConversationNotFound",
      "job-two",
    ]);
  });

  it("refuses a submission stuck behind a lane that does not move, and never stores it", async () => {
    let release: () => void = () => {};
    const stuck = new Promise<void>((resolve) => (release = resolve));
    const since = Date.now();
    const { submissions: s, store } = submissions({
      run: (task) => stuck.then(task),
      lastProgressAt: () => since,
    });
    const refused = s.submit(input("late"));
    await expect(refused).rejects.toBeInstanceOf(Unavailable);
    await expect(refused).rejects.toThrow(/not accepted/);
    release();
    await stuck;
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(store).not.toHaveBeenCalled();
  });

  it("keeps a submission waiting behind a lane that is busy but moving, past the deadline", async () => {
    let release: () => void = () => {};
    const busy = new Promise<void>((resolve) => (release = resolve));
    const { submissions: s } = submissions({ run: (task) => busy.then(task) });
    const accepted = s.submit(input("patient"));
    // Four deadlines pass while the lane keeps moving (lastProgressAt is always now).
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    await expect(accepted).resolves.toMatchObject({ id: "job-patient" });
  });

  it("refuses only the submission whose acceptance failed, and answers the others", async () => {
    const { submissions: s } = submissions({
      run: (task) => Promise.resolve().then(task),
      accept: (result) => {
        if (result.job.prompt === "bad") throw new Error("the scheduler has stopped");
        return accept(result);
      },
    });
    const results = await Promise.allSettled([s.submit(input("good")), s.submit(input("bad"))]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
  });
});

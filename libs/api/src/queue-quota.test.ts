import { randomUUID } from "node:crypto";
import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { SubmitJobInput } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { TooMany } from "./errors";
import { countNewJobs, QueueQuota } from "./queue-quota";
import { useTestStore } from "./testing/test-store";

const params = { ...DEFAULT_JOB_PARAMS, width: 512, height: 512, steps: 10 };
const input = (idempotencyKey?: string): SubmitJobInput => ({
  prompt: `quota ${randomUUID()}`,
  params,
  owner: "ann",
  ...(idempotencyKey ? { idempotencyKey } : {}),
});

describe("QueueQuota", () => {
  it("asks which keys are held only when a submission would pass the limit", async () => {
    const asked: number[] = [];
    const quota = new QueueQuota(2, () => 1);
    const countNew = () => {
      asked.push(1);
      return Promise.resolve(0);
    };
    const submit = () => Promise.resolve("stored");
    expect(await quota.admit({ owner: "ann", inputs: [input("a")], submit, countNew })).toBe("stored");
    expect(asked).toEqual([]);
    expect(await quota.admit({ owner: "ann", inputs: [input("a"), input("b")], submit, countNew })).toBe("stored");
    expect(asked).toEqual([1]);
  });

  it("refuses a submission past the limit that carries no key, or whose new jobs pass it", async () => {
    const quota = new QueueQuota(2, () => 2);
    const submit = () => Promise.resolve("stored");
    await expect(
      quota.admit({ owner: "ann", inputs: [input()], submit, countNew: () => Promise.resolve(1) }),
    ).rejects.toThrow(
      new TooMany({ message: "You have 2 jobs waiting already, the most one user may have; wait for some to start" }),
    );
    await expect(
      quota.admit({ owner: "ann", inputs: [input("a"), input("b")], submit, countNew: () => Promise.resolve(1) }),
    ).rejects.toBeInstanceOf(TooMany);
  });

  it("counts the new jobs of a submission only once one with the same key is stored", async () => {
    const quota = new QueueQuota(1, () => 0);
    const order: string[] = [];
    let store: () => void = () => {};
    const first = quota.admit({
      owner: "ann",
      inputs: [input("k")],
      submit: () => new Promise<string>((resolve) => (store = () => resolve("first"))),
      countNew: () => Promise.reject(new Error("not asked: it fits")),
    });
    const second = quota.admit({
      owner: "ann",
      inputs: [input("k")],
      submit: () => Promise.resolve("second"),
      countNew: () => {
        order.push("counted");
        return Promise.resolve(0);
      },
    });
    await new Promise((resolve) => setImmediate(resolve));
    order.push("stored");
    store();
    expect(await Promise.all([first, second])).toEqual(["first", "second"]);
    expect(order).toEqual(["stored", "counted"]);
  });
});

describe("countNewJobs", () => {
  const { store } = useTestStore();

  it("counts the inputs that would make a new job (a key repeated in the batch once), and stores none of them", async () => {
    const held = input(`held ${randomUUID()}`);
    const { job } = await store().submitJob(held);
    const fresh = input(`fresh ${randomUUID()}`);
    expect(await countNewJobs(store(), "ann", [fresh, input()])).toBe(2);
    expect(await countNewJobs(store(), "ann", [held, fresh, fresh, input()])).toBe(2);
    expect(await countNewJobs(store(), "ann", [held])).toBe(0);
    const jobs = (await store().listJobs({ owner: "ann", limit: 500 })).items;
    expect(jobs.map((stored) => stored.id)).toEqual([job.id]);
  });
});

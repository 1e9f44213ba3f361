import { describe, expect, it } from "vitest";
import { Fenced, LeaderLease } from "./leader-lease";
import { params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("LeaderLease on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const lease = (holder: string, leaseMs = 10_000) =>
    new LeaderLease(test().database.db, holder, `http://${holder}`, leaseMs);

  it("gives the lease to one server at a time, and a new epoch to the next term once it ran out", async () => {
    const a = lease("a", 1_000);
    const b = lease("b", 1_000);
    const first = await a.acquire();
    expect(first).not.toBeNull();
    expect(await b.acquire()).toBeNull();
    expect(await b.current()).toEqual({ holder: "a", url: "http://a", epoch: first });
    expect(await a.renew(first!)).toBe(true);
    await sleep(1_100);
    const second = await b.acquire();
    expect(second).toBe(first! + 1);
    expect(await a.renew(first!)).toBe(false);
    expect(await a.current()).toMatchObject({ holder: "b", epoch: second });
  });

  it("refuses every write of a term that is over, and keeps the new term's", async () => {
    const a = lease("a", 1_000);
    const b = lease("b", 10_000);
    const old = (await a.acquire())!;
    const fencedA = store().withFence((tx) => a.fence(tx, old));
    await fencedA.transaction((s) => s.submitJob({ prompt: "written in the old term", params }));
    await sleep(1_100);
    const current = (await b.acquire())!;
    const attempt = fencedA.transaction((s) => s.submitJob({ prompt: "written after the takeover", params }));
    await expect(attempt).rejects.toBeInstanceOf(Fenced);
    const fencedB = store().withFence((tx) => b.fence(tx, current));
    await fencedB.transaction((s) => s.submitJob({ prompt: "written in the new term", params }));
    const prompts = (await store().listJobs({ limit: 10 })).items.map((job) => job.prompt);
    expect(prompts).toEqual(["written in the old term", "written in the new term"]);
  });

  it("lets a leader whose lease ran out while nobody took it over go on in the same term", async () => {
    const a = lease("a", 1_000);
    const epoch = (await a.acquire())!;
    await sleep(1_100);
    expect(await a.current()).toBeNull();
    expect(await a.renew(epoch)).toBe(true);
    expect(await a.current()).toMatchObject({ holder: "a", epoch });
  });

  it("hands the lease over at once when released", async () => {
    const a = lease("a");
    const b = lease("b");
    const epoch = (await a.acquire())!;
    expect(await b.acquire()).toBeNull();
    await a.release(epoch);
    expect(await b.acquire()).toBe(epoch + 1);
  });
});

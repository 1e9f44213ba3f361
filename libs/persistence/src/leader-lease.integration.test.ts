import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "./database";
import { Fenced, LEASE_RELEASED_CHANNEL, LeaderLease } from "./leader-lease";
import { params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("LeaderLease on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  // Leases far longer than any test, run out on purpose by runOut(): a busy CI machine can take a second between two
  // statements, so a short lease with a sleep would let a lease run out where the test needs it held.
  const lease = (holder: string) => new LeaderLease(test().database.db, holder, `http://${holder}`, 60_000);
  /** Lets the current lease run out, as it does when its holder stops renewing it for leaseMs. */
  const runOut = () =>
    test().database.db.execute(
      sql`update cluster_leader set expires_at = clock_timestamp() - interval '1 millisecond'`,
    );

  it("gives the lease to one server at a time, and a new epoch to the next term once it ran out", async () => {
    const a = lease("a");
    const b = lease("b");
    const first = await a.acquire();
    expect(first).not.toBeNull();
    expect(await b.acquire()).toBeNull();
    const leader = await b.current();
    expect(leader).toEqual({
      holder: "a",
      url: "http://a",
      epoch: first,
      backends: null,
      webhookSecretFingerprint: null,
      expiresInMs: expect.any(Number),
    });
    // Read on the database's clock: a 60 s lease just taken.
    expect(leader!.expiresInMs).toBeGreaterThan(0);
    expect(leader!.expiresInMs).toBeLessThanOrEqual(60_000);
    expect(await a.renew(first!)).toBe(true);
    await runOut();
    const second = await b.acquire();
    expect(second).toBe(first! + 1);
    expect(await a.renew(first!)).toBe(false);
    expect(await a.current()).toMatchObject({ holder: "b", epoch: second });
  });

  it("takes a new term at once when the lease is its own (an acquire whose answer was lost), and fences the lost one", async () => {
    const a = lease("a");
    const lost = await a.acquire();
    expect(lost).not.toBeNull();
    // The answer never reached the server: it is a follower that holds the lease, and tries again.
    const next = await a.acquire();
    expect(next).toBe(lost! + 1);
    expect(await lease("b").acquire()).toBeNull();
    expect(await a.renew(lost!)).toBe(false);
    await expect(store().withFence(a.fenceOf(lost!)).setPaused(true)).rejects.toBeInstanceOf(Fenced);
    expect(await store().lineState()).toMatchObject({ paused: false });
    await store().withFence(a.fenceOf(next!)).setPaused(true);
    expect(await store().lineState()).toMatchObject({ paused: true });
  });

  it("records the backends of each term's leader, and reads those of a leader that records none as unknown", async () => {
    const withBackends = (holder: string, backends: string[]) =>
      new LeaderLease(test().database.db, holder, `http://${holder}`, 60_000, backends);
    const a = withBackends("a", ["http://gpu-1:7860", "http://gpu-2:7860"]);
    await a.acquire();
    expect(await a.current()).toMatchObject({ holder: "a", backends: ["http://gpu-1:7860", "http://gpu-2:7860"] });
    await runOut();
    // [] is a leader on a built-in simulator of its own: known, and not the same as unknown.
    const b = withBackends("b", []);
    await b.acquire();
    expect(await a.current()).toMatchObject({ holder: "b", backends: [] });
    await runOut();
    // A server that records none (an older version, in a rolling upgrade) takes a term without touching them:
    // what the row still holds is the previous term's, which must not pass for this leader's.
    await a.acquire();
    await runOut();
    await test().database.db.execute(
      sql`update cluster_leader set holder = 'c', url = 'http://c', epoch = epoch + 1,
          expires_at = clock_timestamp() + interval '1 minute'`,
    );
    expect(await a.current()).toMatchObject({ holder: "c", backends: null });
    // As a server of this version that is given no list.
    await runOut();
    await lease("d").acquire();
    expect(await a.current()).toMatchObject({ holder: "d", backends: null });
  });

  it("records each term's WEBHOOK_SECRET fingerprint, and reads that of a leader of the version before as unknown", async () => {
    const withSecret = (holder: string, secret: string | null) =>
      new LeaderLease(test().database.db, holder, `http://${holder}`, 60_000, [], secret);
    await withSecret("a", "0123456789abcdef").acquire();
    expect(await lease("x").current()).toMatchObject({
      holder: "a",
      backends: [],
      webhookSecretFingerprint: "0123456789abcdef",
    });
    await runOut();
    await withSecret("b", "none").acquire();
    expect(await lease("x").current()).toMatchObject({ holder: "b", webhookSecretFingerprint: "none" });
    await runOut();
    // The previous version's acquire, word for word: it records its backends and knows nothing of the secret. It
    // runs on the migrated table, and what the row still holds (b's "none") must not pass for its own.
    const epochs = rowsOf(
      await test().database.db.execute(
        sql`insert into cluster_leader (id, holder, url, epoch, expires_at, backends, backends_epoch)
            values (1, ${"c"}, ${"http://c"}, 1, clock_timestamp() + ${60_000} * interval '1 millisecond',
                    ${"[]"}::jsonb, case when ${"[]"}::jsonb is null then null else 1 end)
            on conflict (id) do update
              set holder = excluded.holder, url = excluded.url, epoch = cluster_leader.epoch + 1,
                  expires_at = clock_timestamp() + ${60_000} * interval '1 millisecond',
                  backends = excluded.backends,
                  backends_epoch = case when excluded.backends is null then null else cluster_leader.epoch + 1 end
              where cluster_leader.expires_at < clock_timestamp() or cluster_leader.holder = excluded.holder
            returning epoch`,
      ),
    );
    expect(epochs).toHaveLength(1);
    expect(await lease("x").current()).toMatchObject({ holder: "c", backends: [], webhookSecretFingerprint: null });
    await runOut();
    // This version's server that is given none records none either.
    await lease("d").acquire();
    expect(await lease("x").current()).toMatchObject({ holder: "d", webhookSecretFingerprint: null });
  });

  it("refuses every write of a term that is over, and keeps the new term's", async () => {
    const a = lease("a");
    const b = lease("b");
    const old = (await a.acquire())!;
    const fencedA = store().withFence(a.fenceOf(old));
    await fencedA.transaction((s) => s.submitJob({ prompt: "written in the old term", params }));
    await runOut();
    const current = (await b.acquire())!;
    const attempt = fencedA.transaction((s) => s.submitJob({ prompt: "written after the takeover", params }));
    await expect(attempt).rejects.toBeInstanceOf(Fenced);
    const fencedB = store().withFence(b.fenceOf(current));
    await fencedB.transaction((s) => s.submitJob({ prompt: "written in the new term", params }));
    const prompts = (await store().listJobs({ limit: 10 })).items.map((job) => job.prompt);
    expect(prompts).toEqual(["written in the old term", "written in the new term"]);
  });

  it("refuses the single transitions and spared attempts of a term that is over (a new leader's recovery, a stop)", async () => {
    const a = lease("a");
    const b = lease("b");
    const old = (await a.acquire())!;
    const fencedA = store().withFence(a.fenceOf(old));
    const { job } = await store().submitJob({ prompt: "running when the term ended", params });
    const start = { progress: 0, attempts: 1, startedAt: new Date() };
    await fencedA.applyTransition({ jobId: job.id, from: "queued", to: "processing", patch: start, snapshot });
    await runOut();
    // The next leader runs it again (attempt 2): what the database says runs is what runs.
    const fencedB = store().withFence(b.fenceOf((await b.acquire())!));
    await fencedB.applyTransition({
      jobId: job.id,
      from: "processing",
      to: "queued",
      patch: { progress: 0 },
      snapshot,
    });
    const again = { progress: 0, attempts: 2, startedAt: new Date() };
    await fencedB.applyTransition({ jobId: job.id, from: "queued", to: "processing", patch: again, snapshot });
    // The old term's late writes: its recovery's requeue, its stop's sparing of the attempt it ran.
    const requeue = fencedA.applyTransition({
      jobId: job.id,
      from: "processing",
      to: "queued",
      patch: { progress: 0, startedAt: null },
      snapshot,
    });
    await expect(requeue).rejects.toBeInstanceOf(Fenced);
    await expect(fencedA.spareAttempt(job.id, 2, 0)).rejects.toBeInstanceOf(Fenced);
    expect(await store().getJob(job.id)).toMatchObject({ status: "processing", attempts: 2, spared: 0 });
  });

  it("refuses the submissions of a term that is over: the next leader's line, read at its start, would never hold them", async () => {
    const a = lease("a");
    const b = lease("b");
    const old = (await a.acquire())!;
    const fencedA = store().withFence(a.fenceOf(old));
    await fencedA.submitJobs([{ prompt: "stored in the old term", params }]);
    await runOut();
    await b.acquire();
    // Every path a submission takes: one statement for new jobs, and the general one (a repeated key).
    await expect(fencedA.submitJobs([{ prompt: "late, new", params }])).rejects.toBeInstanceOf(Fenced);
    await expect(fencedA.submitNewJobs([{ prompt: "late, pipelined", params }])).rejects.toBeInstanceOf(Fenced);
    await expect(fencedA.submitJobsAtomically([{ prompt: "late, many", params }])).rejects.toBeInstanceOf(Fenced);
    const keyed = { prompt: "late, keyed", params, idempotencyKey: "k" };
    await expect(fencedA.submitJobs([keyed, keyed])).rejects.toBeInstanceOf(Fenced);
    await expect(fencedA.submitJobsAtomically([keyed, keyed])).rejects.toBeInstanceOf(Fenced);
    const prompts = (await store().listJobs({ limit: 10 })).items.map((job) => job.prompt);
    expect(prompts).toEqual(["stored in the old term"]);
  });

  it("refuses a term that is over its queue's pause and a job's move: the next leader's line would not follow them", async () => {
    const a = lease("a");
    const b = lease("b");
    const fencedA = store().withFence(a.fenceOf((await a.acquire())!));
    const [stored] = await store().submitJobs([{ prompt: "waiting", params }]);
    const jobId = (stored as { job: { id: string } }).job.id;
    await runOut();
    await b.acquire();
    await expect(fencedA.setPaused(true)).rejects.toBeInstanceOf(Fenced);
    await expect(fencedA.moveJob(jobId, "global", "admin")).rejects.toBeInstanceOf(Fenced);
    expect(await store().lineState()).toMatchObject({ paused: false });
    expect(await store().getJob(jobId)).toMatchObject({ line: { front: null } });
  });

  it("lets a leader whose lease ran out while nobody took it over go on in the same term", async () => {
    const a = lease("a");
    const epoch = (await a.acquire())!;
    await runOut();
    expect(await a.current()).toBeNull();
    expect(await a.renew(epoch)).toBe(true);
    expect(await a.current()).toMatchObject({ holder: "a", epoch });
  });

  it.runIf(driver.kind === "postgres")(
    "runs a new term's lease from when it is granted, after waiting for a write of the old term",
    async () => {
      const a = lease("a");
      const b = lease("b");
      const old = (await a.acquire())!;
      await runOut();
      let acquiring: Promise<number | null> | undefined;
      let releasedAt: unknown;
      await test().database.db.transaction(async (tx) => {
        // A write of the old term, stuck (behind a lock on a table, say) while its lease ran out: it holds the row.
        await a.fence(tx, old);
        acquiring = b.acquire();
        await new Promise((resolve) => setTimeout(resolve, 300));
        releasedAt = rowsOf(await tx.execute(sql`select clock_timestamp()::text as now`))[0]?.["now"];
      });
      expect(await acquiring).toBe(old + 1);
      const [row] = rowsOf(
        await test().database.db.execute(
          sql`select expires_at >= ${String(releasedAt)}::timestamptz + interval '60 seconds' as whole from cluster_leader`,
        ),
      );
      expect(row?.["whole"]).toBe(true);
      // So the old leader cannot take it back.
      expect(await a.acquire()).toBeNull();
    },
  );

  it("says on anvil_lease_released that it handed its term back, and nothing for a term that was not its to end", async () => {
    const { database } = test();
    let heard = 0;
    let marks = 0;
    const stopHearing = await database.listen(LEASE_RELEASED_CHANNEL, () => heard++);
    const stopMarks = await database.listen("anvil_test_mark", () => marks++);
    // Notifications reach a listener in the order of their commits: once a mark sent after a release is heard, so
    // is whatever that release said.
    const mark = async () => {
      const before = marks;
      await database.db.execute(sql`select pg_notify('anvil_test_mark', '')`);
      await expect.poll(() => marks).toBe(before + 1);
    };
    try {
      const a = lease("a");
      const b = lease("b");
      const epoch = (await a.acquire())!;
      await b.release(epoch);
      await a.release(epoch + 1);
      await mark();
      expect(heard).toBe(0);
      await a.release(epoch);
      await mark();
      expect(heard).toBe(1);
      // Once stopped, the listener hears nothing more.
      await stopHearing();
      await b.release((await b.acquire())!);
      await mark();
      expect(heard).toBe(1);
    } finally {
      await stopHearing();
      await stopMarks();
    }
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

import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import postgres from "postgres";
import { describe, expect, inject, it } from "vitest";
import type { AnvilClient } from "../testing/clients";
import { codeOf, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { pause, waitFor, waitForJob } from "../testing/wait";
import { startInProcess } from "./support/in-process";
import type { InProcessOptions, InProcessServer } from "./support/in-process";
import { authorizedHttpClient } from "./support/authorized-clients";
import { startTcpProxy, throughProxy } from "./support/tcp-proxy";
import type { TcpProxy } from "./support/tcp-proxy";
import { useCleanups } from "./support/cleanups";

const postgresDriver = testDrivers().find((driver) => driver.kind === "postgres");
const OUTAGE_MS = 3_000;
const NOT_ACCEPTED = /database is not reachable.*not accepted/i;

/** The job event log and the jobs, as the database holds them: read directly, not through the proxy or the server. */
const readDatabase = async (databaseUrl: string) => {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const events = await sql<{ id: string; jobId: string; status: string }[]>`
      select e.id::text as id, e.job_id::text as "jobId", e.status from job_events e order by e.id`;
    const jobs = await sql<{ id: string; prompt: string; lastEventId: string }[]>`
      select id::text as id, prompt, last_event_id::text as "lastEventId" from jobs`;
    return { events, jobs };
  } finally {
    await sql.end({ timeout: 5 });
  }
};

/** Waits until `job` is complete; the journal may still be backing off when the database comes back. */
const completes = (trpc: AnvilClient, job: Job) =>
  waitFor(
    async () => (await trpc.jobs.get.query({ jobId: job.id })).status === "complete",
    `${job.prompt} completes`,
    20_000,
  );

const submit = (trpc: AnvilClient, label: string, steps: number) =>
  trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), width: 64, height: 64, steps });

describe.skipIf(!postgresDriver)(
  `a PostgreSQL outage${inject("testDatabaseUrl") ? "" : " (skipped: TEST_DATABASE_URL is not set, and this needs a real PostgreSQL behind a TCP proxy)"}`,
  () => {
    const cleanups = useCleanups(60_000);

    /** A fresh database, a proxy in front of it, an external simulator and an in-process server using both. */
    const setUp = async (
      settings: InProcessOptions = {},
    ): Promise<{
      database: TestDatabase;
      proxy: TcpProxy;
      simulator: ForgeSimulator;
      server: InProcessServer;
    }> => {
      const database = await postgresDriver!.create();
      cleanups.push(() => database.dispose());
      const target = new URL(database.databaseUrl!);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      cleanups.push(() => proxy.close());
      const simulator = await startForgeSimulator({ stepMs: 20 });
      cleanups.push(() => simulator.close());
      const server = await startInProcess(
        { dataDir: database.dataDir, databaseUrl: throughProxy(database.databaseUrl!, proxy) },
        { forgeUrls: [simulator.url], jobTimeoutMs: 60_000, ...settings },
      );
      // Restored first: the server flushes its journal to the database before it closes.
      cleanups.push(async () => {
        await proxy.restore();
        await server.anvil.close();
      });
      return { database, proxy, simulator, server };
    };

    /** Each job went queued → processing → complete, each event once and in id order, started one after another. */
    const expectEachTransitionOnce = async (database: TestDatabase, jobs: readonly Job[]) => {
      const { events, jobs: rows } = await readDatabase(database.databaseUrl!);
      for (const job of jobs) {
        expect(events.filter((event) => event.jobId === job.id).map((event) => event.status)).toEqual([
          "queued",
          "processing",
          "complete",
        ]);
      }
      // They started one after another. (The next may start before the last one's `complete`: the GPU is handed
      // on as soon as the backend is done, while the image is kept.)
      const index = (jobId: string) => jobs.findIndex((job) => job.id === jobId) + 1;
      expect(
        events.filter((event) => event.status === "processing").map((e) => `job${index(e.jobId)}:${e.status}`),
      ).toEqual(jobs.map((_, i) => `job${i + 1}:processing`));
      expect(events).toHaveLength(3 * jobs.length);
      // Each job row points at its own last event.
      for (const row of rows) {
        expect(row.lastEventId).toBe(events.filter((event) => event.jobId === row.id).at(-1)?.id);
      }
      return rows;
    };

    it("reconnects by itself after a cut mid-run, refuses submissions while down, and loses or repeats no transition", async () => {
      const { database, proxy, simulator, server } = await setUp();
      const { trpc } = server;
      // The first job is long enough to be caught running (100 steps of 20 ms), the others are quick.
      const accepted: Job[] = [];
      for (const steps of [100, 10, 10, 10]) accepted.push(await submit(trpc, `outage ${steps}`, steps));
      await waitForJob(trpc, accepted[0]!.id, (job) => job.status === "processing" && job.progress > 0, "job 1 runs");
      const attemptsBefore = proxy.attempts.length;

      proxy.cut();
      const cutAt = Date.now();
      // The running job's progress writes fail: health says so, while the server itself still answers.
      await waitFor(async () => !(await trpc.health.query()).ok, "health reports the database down");
      const submittedAt = Date.now();
      const refusedPrompt = uniquePrompt("during the outage");
      const refused = await trpcError(
        trpc.jobs.submit.mutate({ prompt: refusedPrompt, width: 64, height: 64, steps: 1 }),
      );
      console.info(`jobs.submit during the outage was refused after ${Date.now() - submittedAt} ms`);
      expect(codeOf(refused)).toEqual({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
      expect(refused.message).toMatch(NOT_ACCEPTED);
      await pause(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
      const attemptsDuringOutage = proxy.attempts.length - attemptsBefore;
      await proxy.restore();

      for (const job of accepted) await completes(trpc, job);
      await waitFor(async () => (await trpc.health.query()).ok, "health reports the database up again");
      const after = await submit(trpc, "after the outage", 1);
      await waitForJob(trpc, after.id, (j) => j.status === "complete", "a job submitted after the outage completes");

      // It kept trying by itself while the database was away: one write, retried again and again, each retry
      // counted on from the one before (the journal's backoff grows with that count), until one got through.
      // How often it knocked depends on the machine's speed, so it is printed here, not asserted.
      const retries = server.logs.filter((entry) => entry["msg"] === "database write failed; retrying");
      console.info(`connection attempts during the outage: ${attemptsDuringOutage}; write retries: ${retries.length}`);
      // Said once at warn when the outage starts (the retries after it at debug, below the default level), and
      // once when the writes go through again.
      expect(retries.length).toBeGreaterThan(0);
      expect(retries.map((entry) => entry["attempt"])).toEqual(retries.map((_, i) => i + 1));
      expect(retries[0]!["level"]).toBe(40);
      expect(server.logs.filter((entry) => entry["msg"] === "database writes go through again")).toHaveLength(1);
      expect(attemptsDuringOutage).toBeGreaterThan(0);

      const rows = await expectEachTransitionOnce(database, [...accepted, after]);
      expect(rows.map((row) => row.prompt)).not.toContain(refusedPrompt);
      expect(rows).toHaveLength(accepted.length + 1);
      // The generation that ran through the outage was neither lost nor repeated on the GPU.
      for (const job of accepted) {
        expect(
          simulator
            .stats()
            .log.filter((entry) => entry.prompt === job.prompt)
            .map((run) => run.outcome),
        ).toEqual(["completed"]);
      }
      expect(simulator.stats()).toMatchObject({ overlaps: 0, maxConcurrent: 1 });
    }, 30_000);

    it("reports the database down in health and refuses a submission at once on an idle server", async () => {
      const { database, proxy, server } = await setUp();
      const { trpc } = server;
      expect(await trpc.health.query()).toMatchObject({ ok: true, database: "postgres" });

      // Like a PostgreSQL that is stopped for a restart: the connections go and the port refuses new ones.
      await proxy.down();
      // Nothing is being written: only health's own read finds out.
      await waitFor(async () => !(await trpc.health.query()).ok, "health reports the database down");
      const refused = await trpcError(submit(trpc, "idle outage", 1));
      expect(codeOf(refused)).toEqual({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
      expect(refused.message).toMatch(NOT_ACCEPTED);
      // Over HTTP, the 503 says when to try again, as /openapi.json says every 503 does.
      const raw = await fetch(`${server.url}/trpc/jobs.submit`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: uniquePrompt("raw outage") }),
      });
      expect([raw.status, raw.headers.get("retry-after")]).toEqual([503, "1"]);
      await proxy.restore();

      await waitFor(async () => (await trpc.health.query()).ok, "health reports the database up again");
      const job = await submit(trpc, "after the idle outage", 1);
      await waitForJob(trpc, job.id, (j) => j.status === "complete", "a job submitted after the outage completes");
      const rows = await expectEachTransitionOnce(database, [job]);
      expect(rows).toHaveLength(1);
    }, 30_000);

    /**
     * Makes `database` refuse this server's writes (what a failover that lands on a standby looks like: reads work,
     * every write is refused, 25006), or every new connection (a database being restored or moved,
     * `allow_connections`, 55000), and takes the refusal back; its open connections are cut, so that the server's next
     * ones meet it.
     */
    const refusingDatabase = (database: TestDatabase, how: "read-only" | "no connections") => {
      // From the server's maintenance database: a database cannot refuse the connection the refusal is made on.
      const admin = new URL(database.databaseUrl!);
      const name = admin.pathname.slice(1);
      admin.pathname = "/postgres";
      const direct = postgres(admin.href, { max: 1, onnotice: () => {} });
      cleanups.push(() => direct.end({ timeout: 5 }));
      const refuse = async (on: boolean) => {
        await direct.unsafe(
          how === "read-only"
            ? `alter database "${name}" set default_transaction_read_only = ${on ? "on" : "off"}`
            : `alter database "${name}" allow_connections ${on ? "false" : "true"}`,
        );
        await direct`select pg_terminate_backend(pid) from pg_stat_activity
          where datname = ${name} and pid <> pg_backend_pid()`;
      };
      // Writable again before the server closes (it writes its journal out), should the test fail.
      cleanups.push(() => refuse(false));
      return refuse;
    };
    const readOnlyDatabase = (database: TestDatabase) => refusingDatabase(database, "read-only");
    const healthzOf = (server: InProcessServer) => async () => {
      const answer = await fetch(`${server.url}/healthz`);
      return { status: answer.status, ...((await answer.json()) as { database: string }) };
    };

    it("says it is not ready while the database is read-only, though it writes nothing to find out", async () => {
      const { database, server } = await setUp();
      const readOnly = readOnlyDatabase(database);
      const healthz = healthzOf(server);
      expect(await healthz()).toMatchObject({ status: 200, database: "up" });
      await readOnly(true);
      // Not only the moment the connections were dropped: for as long as it takes no writes.
      for (let i = 0; i < 4; i++) {
        expect(await healthz()).toMatchObject({ status: 503, database: "down" });
        expect((await server.trpc.health.query()).ok).toBe(false);
        await pause(250);
      }
      await readOnly(false);
      await waitFor(async () => (await healthz()).status === 200, "/healthz says ready again");
    }, 30_000);

    it.each(["read-only", "no connections"] as const)(
      "keeps its jobs waiting while the database answers but refuses (%s), and says it is not ready",
      async (how) => {
        const { database, server } = await setUp();
        const { trpc } = server;
        const refuse = refusingDatabase(database, how);
        const running = await submit(trpc, `${how} 60`, 60);
        await waitForJob(trpc, running.id, (j) => j.status === "processing", "the first job runs");
        const waiting = await submit(trpc, `${how} 1`, 1);

        await refuse(true);
        const healthz = healthzOf(server);
        // The running job's next write is refused, and retried: health and /healthz say so.
        await waitFor(
          async () => !(await trpc.health.query()).ok && (await healthz()).status === 503,
          "health and /healthz report the database down",
        );
        // Not a moment's blip of the dropped connections: it stays so while the writes are refused.
        for (let i = 0; i < 3; i++) {
          expect(await healthz()).toMatchObject({ status: 503, database: "down" });
          await pause(200);
        }
        const refused = await trpcError(submit(trpc, `while ${how}`, 1));
        expect(codeOf(refused)).toEqual({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
        // Read-only, the jobs can be read meanwhile; with no connections, the reads are refused too (503).
        for (const job of how === "read-only" ? [running, waiting] : []) {
          expect((await trpc.jobs.get.query({ jobId: job.id })).status).not.toBe("error");
        }

        await refuse(false);
        await completes(trpc, running);
        await completes(trpc, waiting);
        expect(await healthz()).toMatchObject({ status: 200, database: "up" });
      },
      45_000,
    );

    it("answers reads and sign-ins that need the database with 503 while it is down, never a 500", async () => {
      const token = "an-api-token-for-the-outage";
      const { proxy, server } = await setUp({ apiToken: token });
      const admin = authorizedHttpClient(server.url, { authorization: `Bearer ${token}` });
      const user = await admin.users.create.mutate({ name: "outage-user" });
      const asUser = { authorization: `Bearer ${user.token}` };
      expect((await fetch(`${server.url}/trpc/jobs.list`, { headers: asUser })).status).toBe(200);

      await proxy.down();
      await waitFor(async () => !(await admin.health.query()).ok, "health reports the database down");
      const answers = {
        // The admin's token is known without the database; the list is not.
        "jobs.list as the admin": await fetch(`${server.url}/trpc/jobs.list`, {
          headers: { authorization: `Bearer ${token}` },
        }),
        // A user's token is looked up in the database.
        "jobs.list as a user": await fetch(`${server.url}/trpc/jobs.list`, { headers: asUser }),
        "auth status as a user": await fetch(`${server.url}/auth/status`, { headers: asUser }),
        "a sign-in": await fetch(`${server.url}/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: user.token }),
        }),
      };
      for (const [what, response] of Object.entries(answers)) {
        expect(response.status, what).toBe(503);
        const body = (await response.json()) as { error: { message: string; data: { code: string } } };
        expect(body.error.data.code, what).toBe("SERVICE_UNAVAILABLE");
        expect(body.error.message, what).toMatch(/database is not reachable/);
      }
      await proxy.restore();
      await waitFor(
        async () => (await fetch(`${server.url}/trpc/jobs.list`, { headers: asUser })).status === 200,
        "the user's calls are answered again",
      );
    }, 30_000);

    it("refuses submissions within the deadline while the database is silent, and never stores one it refused", async () => {
      const { database, proxy, server } = await setUp();
      const { trpc } = server;
      const accepted = [await submit(trpc, "partition 60", 60), await submit(trpc, "partition 5", 5)];
      await waitForJob(trpc, accepted[0]!.id, (job) => job.status === "processing" && job.progress > 0, "job 1 runs");

      // Like a network partition: the connections stay open and nothing answers, so no query fails by itself.
      proxy.blackhole();
      const prompts = [1, 2, 3].map((i) => uniquePrompt(`silent ${i}`));
      const refusals = await Promise.all(
        prompts.map((prompt) => trpcError(trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 1 }))),
      );
      for (const refused of refusals) expect(codeOf(refused)).toEqual({ code: "SERVICE_UNAVAILABLE", httpStatus: 503 });
      // At most the one that reached the database before it fell silent may still be stored; the client is told.
      const notAccepted = prompts.filter((_, i) => NOT_ACCEPTED.test(refusals[i]!.message));
      expect(notAccepted.length).toBeGreaterThanOrEqual(prompts.length - 1);
      for (const [i, refused] of refusals.entries()) {
        if (!notAccepted.includes(prompts[i]!))
          expect(refused.message).toMatch(/may still be accepted.*idempotencyKey/);
      }
      expect((await trpc.health.query()).ok).toBe(false);
      await proxy.restore();

      for (const job of accepted) await completes(trpc, job);
      await waitFor(async () => (await trpc.health.query()).ok, "health reports the database up again");
      const after = await submit(trpc, "after the partition", 1);
      await waitForJob(trpc, after.id, (j) => j.status === "complete", "a job submitted after the partition completes");
      // A submission that was refused as "not accepted" never shows up once the database answers again.
      const rows = await readDatabase(database.databaseUrl!);
      for (const prompt of notAccepted) expect(rows.jobs.map((row) => row.prompt)).not.toContain(prompt);
      const stored = rows.jobs.filter((row) => prompts.includes(row.prompt));
      const jobs = [
        ...accepted,
        ...(await Promise.all(stored.map((row) => trpc.jobs.get.query({ jobId: row.id })))),
        after,
      ];
      for (const job of jobs) await completes(trpc, job);
      await expectEachTransitionOnce(database, jobs);
    }, 30_000);
  },
);

import { startForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import type { TRPCClientError } from "@trpc/client";
import postgres from "postgres";
import { describe, expect, inject, it } from "vitest";
import { httpClient } from "../testing/clients";
import { codeOf, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { pause, waitFor } from "../testing/wait";
import { spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

const postgresDriver = testDrivers().find((driver) => driver.kind === "postgres");
const ROUNDS = 6;
const ROUND_MS = 1_000;
const SUBMIT_EVERY_MS = 20;
const GPUS = 3;

const alive = (server: ServerProcess) => server.child.exitCode === null && server.child.signalCode === null;

describe.skipIf(!postgresDriver)(
  `the built server while PostgreSQL terminates its connections${inject("testDatabaseUrl") ? "" : " (skipped: TEST_DATABASE_URL is not set)"}`,
  () => {
    const { servers, cleanups } = useBuiltServers(60_000);

    // What a PostgreSQL failover or a pooler restart does to a server under load. postgres.js 3.4.9 killed the
    // process in this (porsager/postgres#1154, #1208); patches/postgres+3.4.9.patch is why it survives.
    it("stays up, reconnects, and completes every job whose submission it acknowledged", async () => {
      // Several GPUs, so that the jobs drain about as fast as they are submitted.
      const simulators = await Promise.all(Array.from({ length: GPUS }, () => startForgeSimulator({ stepMs: 1 })));
      cleanups.push(() => Promise.all(simulators.map((simulator) => simulator.close())));
      const database = await postgresDriver!.create();
      cleanups.push(() => database.dispose());
      const server = await spawnServer({
        FORGE_URL: simulators.map((simulator) => simulator.url).join(","),
        DATA_DIR: database.dataDir,
        DATABASE_URL: database.databaseUrl!,
        JOB_TIMEOUT_MS: "60000",
        MAX_QUEUED_PER_USER: "0",
      });
      servers.push(server);
      const trpc = httpClient(server.url);
      const killer = postgres(database.databaseUrl!, { max: 1, onnotice: () => {} });
      cleanups.push(() => killer.end({ timeout: 5 }));
      const inTransaction = async () =>
        (
          await killer`
            select 1 from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null`
        ).length > 0;

      const acknowledged: Job[] = [];
      const refusals: unknown[] = [];
      const submissions: Promise<unknown>[] = [];
      let submitting = true;
      const submitter = (async () => {
        for (let i = 0; submitting && alive(server); i++) {
          // Not awaited: submissions go on at their pace while earlier ones wait out a lost connection.
          submissions.push(
            trpc.jobs.submit.mutate({ prompt: uniquePrompt(`terminated ${i}`), width: 64, height: 64, steps: 1 }).then(
              (job) => acknowledged.push(job),
              (error: unknown) => refusals.push(codeOf(error as TRPCClientError<never>).code),
            ),
          );
          await pause(SUBMIT_EVERY_MS);
        }
      })();

      let terminated = 0;
      for (let round = 0; round < ROUNDS && alive(server); round++) {
        // Each round hits a server that took work since the last one, so its connections are back and busy.
        const before = acknowledged.length;
        await waitFor(() => acknowledged.length > before || !alive(server), "the server acknowledges a submission");
        // A second later, and when a transaction of the server is under way if one comes within another second:
        // a connection lost in the middle of one is where the driver broke.
        const due = Date.now() + ROUND_MS;
        while (alive(server) && !(Date.now() >= due && ((await inTransaction()) || Date.now() >= due + ROUND_MS))) {
          await pause(10);
        }
        const killed = await killer`
          select pg_terminate_backend(pid) from pg_stat_activity
          where datname = current_database() and pid <> pg_backend_pid()`;
        terminated += killed.length;
      }
      submitting = false;
      await submitter;
      await Promise.all(submissions);

      expect(alive(server), `the server exited; stderr: ${server.stderr().slice(-2_000)}`).toBe(true);
      expect(terminated).toBeGreaterThan(0);
      console.info(
        `${terminated} connections terminated; ${acknowledged.length} submissions acknowledged, ${refusals.length} refused`,
      );
      // A submission the server could not store was refused as such, never with another error.
      expect(refusals.filter((code) => code !== "SERVICE_UNAVAILABLE")).toEqual([]);
      await waitFor(async () => (await trpc.health.query()).ok, "health reports the database up again");
      const pending = new Set(acknowledged.map((job) => job.id));
      await waitFor(
        async () => {
          for (let cursor: string | null = null; ;) {
            const page = await trpc.jobs.list.query({
              status: ["complete"],
              limit: 500,
              ...(cursor ? { cursor } : {}),
            });
            for (const job of page.items) pending.delete(job.id);
            if ((cursor = page.nextCursor) === null) return pending.size === 0;
          }
        },
        () => `every acknowledged job completes (${pending.size} of ${acknowledged.length} not complete)`,
        60_000,
      );
      expect(alive(server)).toBe(true);
    }, 120_000);
  },
);

import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator, ForgeSimulatorOptions } from "@anvil/forge-client";
import { afterEach, beforeAll } from "vitest";
import { spawnScript } from "../../testing/spawn-server";
import type { ServerProcess } from "../../testing/spawn-server";
import type { TestDatabase, TestDriver } from "../../testing/test-databases";
import type { Cleanup } from "./cleanups";

export type { Exit, LogLine, ServerProcess } from "../../testing/spawn-server";

/** The server as `npm run serve` starts it. */
export const BUILT_SERVER = fileURLToPath(new URL("../../../dist/main.js", import.meta.url));

/** Fails with a message that says what to do when the server has not been built. */
export function assertServerBuilt(): void {
  if (!existsSync(BUILT_SERVER)) {
    throw new Error(
      `${BUILT_SERVER} does not exist: build the server first (npm run build -w @anvil/server); npm test builds before testing`,
    );
  }
}

/**
 * Spawns the built server with exactly `env` (plus PATH and HOME; nothing else leaks in from the test's own
 * environment, API_TOKEN and DATABASE_URL included) and resolves once it logs the URL it listens on.
 */
export function spawnServer(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<ServerProcess> {
  assertServerBuilt();
  return spawnScript(BUILT_SERVER, env, readyTimeoutMs);
}

/** Whether `server` leads its cluster now, by its log: it took the lead more often than it gave it up. */
export const leadsCluster = (server: ServerProcess): boolean =>
  server.logs.filter((line) => line.msg === "this server leads the cluster").length >
  server.logs.filter((line) => line.msg === "this server no longer leads the cluster").length;

/** Kills every server in `servers` that still runs (for afterEach). */
export async function killAll(servers: ServerProcess[]): Promise<void> {
  await Promise.all(servers.splice(0).map((server) => server.kill("SIGKILL")));
}

/**
 * For the enclosing describe: checks that the server is built, and after each test kills every server still in
 * `servers`, then runs `cleanups` in reverse order (within `timeoutMs`). The tests push onto both.
 */
export function useBuiltServers(timeoutMs: number): { servers: ServerProcess[]; cleanups: Cleanup[] } {
  const servers: ServerProcess[] = [];
  const cleanups: Cleanup[] = [];
  beforeAll(() => assertServerBuilt());
  // One hook, so the servers are gone before what they use (simulators, databases) is undone.
  afterEach(async () => {
    await killAll(servers);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, timeoutMs);
  return { servers, cleanups };
}

/** What the servers of one test's cluster share. */
export interface ClusterParts {
  /** A fresh PostgreSQL database: every server's `DATABASE_URL`. */
  database: TestDatabase;
  /** The Forge simulators: every server's `FORGE_URL`, in this order. */
  sims: ForgeSimulator[];
  /** The environment each server of the cluster starts with (`FORGE_URL`, `DATA_DIR`, `DATABASE_URL`, `LEASE_MS`). */
  env: Record<string, string>;
}

/**
 * A cluster's shared parts for one test: a fresh database on `postgres` and one Forge simulator per entry of
 * `simulators` (one with 5 ms steps unless given), undone after the test through `cleanups`. `env` adds to the
 * cluster's environment or overrides it (`LEASE_MS` is 2 s unless it says otherwise).
 */
export async function clusterParts(
  postgres: TestDriver,
  cleanups: Cleanup[],
  {
    simulators = [{ stepMs: 5 }],
    env = {},
  }: { simulators?: ForgeSimulatorOptions[]; env?: Record<string, string> } = {},
): Promise<ClusterParts> {
  const database = await postgres.create();
  cleanups.push(() => database.dispose());
  const sims = await Promise.all(simulators.map((options) => startForgeSimulator(options)));
  cleanups.push(() => Promise.all(sims.map((sim) => sim.close())));
  return {
    database,
    sims,
    env: {
      FORGE_URL: sims.map((sim) => sim.url).join(","),
      DATA_DIR: database.dataDir,
      DATABASE_URL: database.databaseUrl!,
      LEASE_MS: "2000",
      ...env,
    },
  };
}

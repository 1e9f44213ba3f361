import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startAnvil } from "../../anvil";
import type { AnvilConfig, AnvilServer } from "../../anvil";
import { httpClient } from "../../testing/clients";
import type { AnvilClient } from "../../testing/clients";
import type { TestDatabase, TestDriver } from "../../testing/test-databases";
import { backendsUp, standInWebApp, testServerConfig } from "../../testing/test-server";
import { waitFor } from "../../testing/wait";

/** An in-process Anvil with its client and what it logged. */
export interface InProcessServer {
  anvil: AnvilServer;
  trpc: AnvilClient;
  url: string;
  /** Every log entry, parsed. */
  logs: Record<string, unknown>[];
}

/** What a reliability test may set, beyond the defaults below. */
export type InProcessOptions = Partial<Omit<AnvilConfig, "logger" | "dataDir" | "databaseUrl">> & {
  /** Wait until every backend is healthy before returning (default true). */
  awaitHealthy?: boolean;
};

/**
 * Starts Anvil in this process on `database`: port 0 on 127.0.0.1, small timeouts, logs kept in memory.
 * Unlike the shared test server it takes any setting (backend URLs among them) or a database URL of the test's own.
 */
export async function startInProcess(
  database: Pick<TestDatabase, "dataDir"> & { databaseUrl?: string | undefined },
  { awaitHealthy = true, ...options }: InProcessOptions = {},
): Promise<InProcessServer> {
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const anvil = await startAnvil({
    ...testServerConfig(database),
    probeIntervalMs: 200,
    webDir: await standInWebApp(database.dataDir),
    logger,
    ...options,
  });
  if (awaitHealthy) await backendsUp(anvil);
  return { anvil, trpc: httpClient(anvil.url), url: anvil.url, logs };
}

/** Starts an in-process server (see {@link useFreshServer}). */
type Starter = (options?: InProcessOptions) => Promise<InProcessServer>;

/**
 * For tests whose servers differ in their settings: `start` makes a fresh database and a server on it, `again`
 * another server on the same database (a restart with other settings; close the first one before). Every server
 * and the database are gone after each test.
 */
export function useFreshServer(driver: TestDriver): { start: Starter; again: Starter } {
  let database: TestDatabase | undefined;
  const started: InProcessServer[] = [];
  afterEach(async () => {
    for (const server of started.splice(0)) await server.anvil.close();
    await database?.dispose();
    database = undefined;
  });
  const again: Starter = async (options = {}) => {
    if (!database) throw new Error("start a server before starting it again");
    const server = await startInProcess(database, options);
    started.push(server);
    return server;
  };
  const start: Starter = async (options = {}) => {
    database = await driver.create();
    return again(options);
  };
  return { start, again };
}

/** Two in-process servers on one PostgreSQL database and one simulator, one of them leading. */
export interface InProcessCluster {
  servers: InProcessServer[];
  leader(): InProcessServer;
  follower(): InProcessServer;
}

/**
 * A 2-server cluster for the tests of a `describe` (`LEASE_MS` 2 s), started once and closed after them; `options`
 * go to both servers. Only on PostgreSQL: pass its driver.
 */
export function useInProcessCluster(postgres: TestDriver, options: InProcessOptions = {}): InProcessCluster {
  let database: TestDatabase;
  let simulator: ForgeSimulator;
  const servers: InProcessServer[] = [];
  beforeAll(async () => {
    database = await postgres.create();
    simulator = await startForgeSimulator({ stepMs: 5 });
    for (let i = 0; i < 2; i++) {
      servers.push(
        await startInProcess(database, {
          forgeUrls: [simulator.url],
          leaseMs: 2_000,
          awaitHealthy: i === 0,
          ...options,
        }),
      );
    }
    await waitFor(() => servers.some((server) => server.anvil.leads()), "one server leads");
  }, 120_000);
  afterAll(async () => {
    for (const server of servers.splice(0)) await server.anvil.close();
    await simulator?.close();
    await database?.dispose();
  });
  const leader = () => servers.find((server) => server.anvil.leads())!;
  return { servers, leader, follower: () => servers.find((server) => server !== leader())! };
}

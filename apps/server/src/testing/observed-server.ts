import { pino } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startAnvil } from "../anvil";
import type { AnvilConfig } from "../anvil";
import { httpClient } from "./clients";
import type { TestDatabase, TestDriver } from "./test-databases";
import { settle } from "./test-server";
import type { TestServer } from "./test-server";
import { waitFor } from "./wait";

/** What an observability test may set: inspection, its ring size, the API token, besides the usual. */
export type ObservedServerOptions = Partial<
  Pick<AnvilConfig, "inspect" | "inspectionCapacity" | "apiToken" | "simulatorStepMs" | "jobTimeoutMs">
>;

/** Starts Anvil on `database` like the other suites do (fast simulator, silent logs), with `options` on top. */
export async function startObservedServer(
  database: TestDatabase,
  options: ObservedServerOptions = {},
): Promise<TestServer> {
  const anvil = await startAnvil({
    port: 0,
    host: "127.0.0.1",
    dataDir: database.dataDir,
    databaseUrl: database.databaseUrl,
    jobTimeoutMs: 20_000,
    logger: pino({ level: "silent" }),
    simulatorStepMs: 5,
    coalesceMs: 10,
    probeIntervalMs: 500,
    ...options,
  });
  if (!anvil.simulator) throw new Error("the test server runs the built-in simulator");
  await waitFor(() => anvil.service.monitor.health().every((backend) => backend.healthy), "the backend is up");
  return {
    anvil,
    simulator: anvil.simulator,
    trpc: httpClient(anvil.url),
    url: anvil.url,
    dataDir: database.dataDir,
  };
}

/** One such server for the enclosing describe; every test starts with an empty queue and an idle GPU. */
export function useObservedServer(driver: TestDriver, options: ObservedServerOptions = {}): () => TestServer {
  let database: TestDatabase | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await driver.create();
    server = await startObservedServer(database, options);
  });
  afterEach(async () => {
    if (server) await settle(server);
  });
  afterAll(async () => {
    await server?.anvil.close();
    await database?.dispose();
  });
  return () => {
    if (!server) throw new Error("the test server has not started");
    return server;
  };
}

import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ForgeSimulator } from "@anvil/forge-client";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startAnvil } from "../anvil";
import type { AnvilConfig, AnvilServer } from "../anvil";
import { httpClient } from "./clients";
import type { AnvilClient } from "./clients";
import type { TestDatabase, TestDriver } from "./test-databases";
import { waitFor } from "./wait";

/** A running Anvil on port 0 with its built-in simulator, and a client for it. */
export interface TestServer {
  anvil: AnvilServer;
  simulator: ForgeSimulator;
  /** HTTP for queries and mutations, SSE for subscriptions. */
  trpc: AnvilClient;
  url: string;
  /** Holds the images (`images/`), a stand-in web app (`web/`) and, on PGlite, the database. */
  dataDir: string;
  /** The PostgreSQL database it runs on (and keeps its images in); undefined on PGlite. */
  databaseUrl: string | undefined;
}

/**
 * What a test may change about the server it starts: timings, and inspection, its ring size, the API token, what a
 * WebSocket may leave unsent, how long its client may stay quiet, and how the line is ordered.
 */
export type TestServerOptions = Partial<
  Pick<
    AnvilConfig,
    | "simulatorStepMs"
    | "coalesceMs"
    | "jobTimeoutMs"
    | "inspect"
    | "inspectionCapacity"
    | "apiToken"
    | "webhooks"
    | "logger"
    | "maxUnsentWebSocketBytes"
    | "webSocketPingMs"
    | "clusterUrl"
    | "scheduling"
  >
>;

/** What every in-process test server shares: port 0 on 127.0.0.1, a fast simulator, short coalescing. */
export const testServerConfig = (database: Pick<TestDatabase, "dataDir"> & { databaseUrl?: string | undefined }) => ({
  port: 0,
  host: "127.0.0.1",
  dataDir: database.dataDir,
  databaseUrl: database.databaseUrl,
  jobTimeoutMs: 20_000,
  simulatorStepMs: 5,
  coalesceMs: 10,
});

/**
 * Writes a web app of its own under `dataDir/web` and returns that directory, so that what the server answers
 * outside /trpc and /images does not depend on a build.
 */
export async function standInWebApp(dataDir: string): Promise<string> {
  const webDir = join(dataDir, "web");
  await mkdir(webDir, { recursive: true });
  await writeFile(join(webDir, "index.html"), "<!doctype html><title>Anvil</title>");
  return webDir;
}

/** Waits until every backend is healthy: jobs are dispatched once a probe found a backend up. */
export const backendsUp = (anvil: AnvilServer): Promise<void> =>
  waitFor(() => anvil.service.monitor.health().every((backend) => backend.healthy), "the backends are up");

/** Starts Anvil on `database` (which outlives it): fast simulator, short coalescing, silent logs. */
export async function startTestServer(database: TestDatabase, options: TestServerOptions = {}): Promise<TestServer> {
  const anvil = await startAnvil({
    ...testServerConfig(database),
    logger: pino({ level: "silent" }),
    probeIntervalMs: 500,
    webDir: await standInWebApp(database.dataDir),
    ...options,
  });
  if (!anvil.simulator) throw new Error("the test server runs the built-in simulator");
  await backendsUp(anvil);
  return {
    anvil,
    simulator: anvil.simulator,
    trpc: httpClient(anvil.url),
    url: anvil.url,
    dataDir: database.dataDir,
    databaseUrl: database.databaseUrl,
  };
}

/** Cancels whatever is still queued or running and waits until the GPU is idle, so the next test starts clean. */
export async function settle(server: TestServer): Promise<void> {
  const { service, store } = server.anvil;
  for (const job of await store.activeJobs()) {
    // A job that finished meanwhile is a CONFLICT, which is fine here.
    await service.cancel(job.id).catch(() => undefined);
  }
  await waitFor(() => {
    const queue = service.scheduler.snapshot();
    const idle = queue.backends.every((backend) => !backend.busy);
    return queue.queued === 0 && queue.processing === 0 && idle && server.simulator.stats().active === 0;
  }, "the queue is empty and the GPU idle");
}

/**
 * One server for the enclosing describe, on a database of `driver`; tests get it through the accessor, and every
 * test starts with an empty queue and an idle GPU.
 */
export function useTestServer(driver: TestDriver, options: TestServerOptions = {}): () => TestServer {
  let database: TestDatabase | undefined;
  let server: TestServer | undefined;
  beforeAll(async () => {
    database = await driver.create();
    server = await startTestServer(database, options);
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

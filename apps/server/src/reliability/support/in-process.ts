import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pino } from "pino";
import { startAnvil } from "../../anvil";
import type { AnvilConfig, AnvilServer } from "../../anvil";
import { httpClient } from "../../testing/clients";
import type { AnvilClient } from "../../testing/clients";
import type { TestDatabase } from "../../testing/test-databases";
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
 * Unlike the shared test server it takes any backend URLs, an API token, or a database URL of the test's own.
 */
export async function startInProcess(
  database: Pick<TestDatabase, "dataDir"> & { databaseUrl?: string | undefined },
  { awaitHealthy = true, ...options }: InProcessOptions = {},
): Promise<InProcessServer> {
  const webDir = join(database.dataDir, "web");
  await mkdir(webDir, { recursive: true });
  await writeFile(join(webDir, "index.html"), "<!doctype html><title>Anvil</title>");
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const anvil = await startAnvil({
    port: 0,
    host: "127.0.0.1",
    dataDir: database.dataDir,
    databaseUrl: database.databaseUrl,
    jobTimeoutMs: 20_000,
    simulatorStepMs: 5,
    coalesceMs: 10,
    probeIntervalMs: 200,
    webDir,
    logger,
    ...options,
  });
  if (awaitHealthy) {
    await waitFor(() => anvil.service.monitor.health().every((backend) => backend.healthy), "the backends are up");
  }
  return { anvil, trpc: httpClient(anvil.url), url: anvil.url, logs };
}

import { pino } from "pino";
import { startAnvil } from "../../anvil";
import type { AnvilConfig, AnvilServer } from "../../anvil";
import { httpClient } from "../../testing/clients";
import type { AnvilClient } from "../../testing/clients";
import type { TestDatabase } from "../../testing/test-databases";
import { backendsUp, standInWebApp, testServerConfig } from "../../testing/test-server";

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

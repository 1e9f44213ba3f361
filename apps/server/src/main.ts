import { pino } from "pino";
import { startAnvil } from "./anvil";
import { readEnv } from "./env";

const GRACE_MS = 30_000;

async function main(): Promise<void> {
  let env;
  try {
    env = readEnv();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const logger = pino({ level: env.LOG_LEVEL, base: { service: "anvil" } });
  const anvil = await startAnvil({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    forgeUrls: env.FORGE_URL,
    apiToken: env.API_TOKEN,
    jobTimeoutMs: env.JOB_TIMEOUT_MS,
    simulatorStepMs: env.ANVIL_SIMULATOR_STEP_MS,
    logger,
  });
  logger.info(
    { url: anvil.url, database: env.DATABASE_URL ? "postgres" : "pglite" },
    `Anvil is listening on ${anvil.url}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now; unfinished jobs run again at the next start");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping: no new work; the running generation is interrupted and will run again");
    setTimeout(() => {
      logger.warn({ graceMs: GRACE_MS }, "grace period over: exiting now");
      process.exit(1);
    }, GRACE_MS).unref();
    anvil.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, "failed to stop cleanly");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(`Anvil failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

import { startAnvil } from "./anvil";
import {
  blameEnvironment,
  checkBackendAddresses,
  checkListenAddress,
  InvalidEnvironment,
  MAX_TIMER_MS,
  readEnv,
} from "./env";
import { inspectionMode } from "./inspection";
import { createLogger } from "./logger";

/** Beyond SHUTDOWN_GRACE_MS: time to interrupt what still runs (a backend may take its time) and persist. */
const STOP_MARGIN_MS = 30_000;

async function main(): Promise<void> {
  const env = readEnv();
  await checkListenAddress(env);
  // Readable lines on a developer's terminal; JSON for anything else (a pipe, a log shipper, production).
  const pretty = process.stdout.isTTY === true && env.NODE_ENV !== "production";
  const logger = createLogger({ level: env.LOG_LEVEL, pretty, color: pretty });
  // One Forge under two names would be two GPUs to the scheduler, and get two generations at once.
  for (const warning of await checkBackendAddresses(env.FORGE_URL)) logger.warn(warning);
  const inspect = inspectionMode(env);
  const anvil = await startAnvil({
    port: env.PORT,
    host: env.HOST,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    forgeUrls: env.FORGE_URL,
    apiToken: env.API_TOKEN,
    authProxyHeader: env.AUTH_PROXY_HEADER,
    allowedOrigins: env.ALLOWED_ORIGINS,
    maxQueuedPerUser: env.MAX_QUEUED_PER_USER,
    jobTimeoutMs: env.JOB_TIMEOUT_MS,
    scheduling: env.SCHEDULING,
    modelAffinity: env.MODEL_AFFINITY,
    simulatorStepMs: env.ANVIL_SIMULATOR_STEP_MS,
    leaseMs: env.LEASE_MS,
    clusterUrl: env.CLUSTER_URL,
    webhooks: { secret: env.WEBHOOK_SECRET, retryMs: env.ANVIL_WEBHOOK_RETRY_MS },
    logger,
    inspect,
  }).catch((error: unknown) => {
    throw blameEnvironment(error, env) ?? error;
  });
  logger.info(
    { url: anvil.url, database: env.DATABASE_URL ? "postgres" : "pglite", inspection: inspect },
    `Anvil is listening on ${anvil.url}`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now; unfinished jobs run again at the next start");
      process.exit(1);
    }
    stopping = true;
    const graceMs = env.SHUTDOWN_GRACE_MS;
    logger.info(
      { signal, graceMs },
      "stopping: no new work; running generations may finish within the grace, what still runs then is interrupted and runs again at the next start",
    );
    // A longer timer would fire at once.
    const giveUpMs = Math.min(graceMs + STOP_MARGIN_MS, MAX_TIMER_MS);
    setTimeout(() => {
      logger.warn({ graceMs, marginMs: STOP_MARGIN_MS }, "could not stop within the grace and its margin: exiting now");
      process.exit(1);
    }, giveUpMs).unref();
    anvil.close({ graceMs }).then(
      () => {
        logger.info({ signal }, "stopped cleanly");
        process.exit(0);
      },
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
  // A bad variable is one line naming it, as it is; anything else says start-up failed, and why.
  if (error instanceof InvalidEnvironment) console.error(error.message);
  else console.error(`Anvil failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

import type { AnvilServer } from "./anvil";

/** Beyond SHUTDOWN_GRACE_MS: time to interrupt what still runs (a backend may take its time) and persist. */
const STOP_MARGIN_MS = 30_000;

/**
 * A signal during start-up waits this long for the start to reach a point where it can be closed (an opening
 * database finishes its migration and is closed, the DATA_DIR lock and the cluster lease are given back); a start
 * still under way then (PostgreSQL not answering) is left as a crash would leave it, which every part of start-up
 * survives, well before a process manager's own kill (docker: 10 s). A new embedded database being made is given up
 * at once (its initdb child killed; it was being made apart, so nothing half made is left where the next start looks).
 */
const STARTUP_STOP_WAIT_MS = 5_000;

// Signals are handled from the first moment: Node's own handling of SIGTERM kills the process (exit 143), which
// reads as a crash to whatever stopped it. So nothing else is imported before these handlers are in place (loading
// the server's modules takes a second or two): until the logger exists, a signal is only noted.
let signalled: string | null = null;
let onSignal = (signal: string): void => {
  if (signalled) process.exit(1);
  signalled = signal;
};
process.on("SIGTERM", () => onSignal("SIGTERM"));
process.on("SIGINT", () => onSignal("SIGINT"));

async function main(): Promise<void> {
  const [{ startAnvil }, environment, { checkBackendAddresses }, { inspectionMode, nodeEnvWarning }, { createLogger }] =
    await Promise.all([
      import("./anvil"),
      import("./env"),
      import("./backend-addresses"),
      import("./inspection"),
      import("./logger"),
    ]);
  const { blameEnvironment, checkListenAddress, MAX_TIMER_MS, readEnv } = environment;
  const env = readEnv();
  // Readable lines on a developer's terminal; JSON for anything else (a pipe, a log shipper, production).
  const pretty = process.stdout.isTTY === true && env.NODE_ENV !== "production";
  const logger = createLogger({ level: env.LOG_LEVEL, pretty, color: pretty });

  let anvil: AnvilServer | null = null;
  // A new embedded database being made cannot be closed part way: a stop gives it up at once instead of waiting.
  const startUp = new AbortController();
  const stoppedDuringStartUp = (signal: string, fields: Record<string, unknown> = {}): never => {
    logger.info({ signal, ...fields }, "stopped during start-up");
    process.exit(0);
  };
  const stop = (signal: string) => {
    if (signalled !== null) {
      logger.warn({ signal }, "second signal: exiting now; unfinished jobs run again at the next start");
      process.exit(1);
    }
    signalled = signal;
    if (anvil) stopServing(anvil, signal);
    else {
      logger.info({ signal, waitMs: STARTUP_STOP_WAIT_MS }, "stopping during start-up: nothing has been served yet");
      startUp.abort(new Error(`stopped by ${signal} during start-up`));
      setTimeout(() => stoppedDuringStartUp(signal, { abandoned: true }), STARTUP_STOP_WAIT_MS);
    }
  };
  const stopServing = (server: AnvilServer, signal: string) => {
    const graceMs = env.SHUTDOWN_GRACE_MS;
    if (server.leads()) {
      logger.info(
        { signal, graceMs },
        "stopping: no new work; running generations may finish within the grace, what still runs then is interrupted and runs again (at once on the next leader of a cluster, else at the next start)",
      );
    } else {
      // A follower drives no GPU: nothing of its own to finish.
      logger.info({ signal }, "stopping: no new work; this server follows, so it has no generation to wait for");
    }
    // A longer timer would fire at once.
    const giveUpMs = Math.min(graceMs + STOP_MARGIN_MS, MAX_TIMER_MS);
    setTimeout(() => {
      logger.warn({ graceMs, marginMs: STOP_MARGIN_MS }, "could not stop within the grace and its margin: exiting now");
      process.exit(1);
    }, giveUpMs).unref();
    server.close({ graceMs }).then(
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
  onSignal = stop;
  // A signal while the modules loaded.
  if (signalled !== null) stoppedDuringStartUp(signalled);

  const inspect = inspectionMode(env);
  const nodeEnv = nodeEnvWarning(env);
  if (nodeEnv) logger.warn(nodeEnv);
  let started: AnvilServer;
  try {
    await checkListenAddress(env);
    // One Forge under two names would be two GPUs to the scheduler, and get two generations at once.
    for (const warning of await checkBackendAddresses(env.FORGE_URL)) logger.warn(warning);
    if (signalled !== null) return stoppedDuringStartUp(signalled);
    started = await startAnvil({
      port: env.PORT,
      host: env.HOST,
      databaseUrl: env.DATABASE_URL,
      dataDir: env.DATA_DIR,
      startUpStopped: startUp.signal,
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
  } catch (error) {
    // Asked to stop: a start that failed meanwhile is no failure of the stop (the log keeps why).
    if (signalled !== null) return stoppedDuringStartUp(signalled, { startUpError: String(error) });
    throw error;
  }
  if (signalled !== null) {
    // It listens already, but has not said so: nobody was told to call it. What started is closed again (a
    // generation sent meanwhile is interrupted and runs again at the next start, as at any stop).
    await started.close().catch((error: unknown) => {
      logger.error({ err: error }, "failed to stop cleanly");
      process.exit(1);
    });
    return stoppedDuringStartUp(signalled);
  }
  anvil = started;
  logger.info(
    { url: anvil.url, database: env.DATABASE_URL ? "postgres" : "pglite", inspection: anvil.inspection },
    `Anvil is listening on ${anvil.url}`,
  );
}

main().catch((error: unknown) => {
  // A bad variable, or a port taken, is one line naming it (InvalidEnvironment, by name: env.ts may not have loaded);
  // anything else says start-up failed, and why.
  if (error instanceof Error && error.name === "InvalidEnvironment") console.error(error.message);
  else console.error(`Anvil failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});

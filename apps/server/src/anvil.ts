import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { EventHub, Inspector, JobService, MAX_BODY_BYTES, MAX_BULK_BODY_BYTES, UserRemovals } from "@anvil/api";
import type { Caller, ClusterServerView, Context, JobServiceOptions, LogHook } from "@anvil/api";
import { normalizeBackendUrl, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeClient } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import {
  ClusterServers,
  databaseErrorText,
  LEASE_RELEASED_CHANNEL,
  LeaderLease,
  WebhookStore,
} from "@anvil/persistence";
import type { ImageStore, JobStore, UserStore } from "@anvil/persistence";
import { TRPCError } from "@trpc/server";
import { version as ANVIL_VERSION } from "../package.json" with { type: "json" };
import type { Logger } from "pino";
import type { InspectionEvent } from "xstate";
import { apiTransport } from "./api-transport";
import { Authenticator } from "./auth";
import { AuthGate } from "./auth-gate";
import { ClusterRole } from "./cluster-role";
import { warnOfClockSkew } from "./clock-skew";
import { forgeFetch } from "./forge-fetch";
import { unknownHostNames } from "./host-check";
import { leaderLink } from "./leader-link";
import { forwardToLeader, HELD_CALLS_MS } from "./leader-proxy";
import { statelyInspector } from "./inspection";
import type { InspectionMode } from "./inspection";
import { countJobsByStatus } from "./job-counts";
import { logObserver } from "./logger";
import { AnvilMetrics } from "./metrics";
import { isBulkSubmission } from "./request-limits";
import { urlOf } from "./request-target";
import { readiness } from "./readiness";
import { StreamsPerUser } from "./streams-per-user";
import { openStorage } from "./storage";
import { answeredByAnyServer, answerSafely, routeRequest } from "./request-router";
import { termBackends } from "./term-backends";
import type { TermBackends } from "./term-backends";
import { guardedFetch } from "./webhook-fetch";
import { webhookSecretFingerprint } from "./webhook-secret-fingerprint";
import { startWebhooks, webhookReceivers } from "./webhooks";
import type { WebhookSettings } from "./webhooks";
import { OpenCredentials } from "./open-credentials";
import { callsInFlight } from "./calls-in-flight";
import { CALL_ID_HEADER, CALL_KEYED, CALL_KEYS_HEADER, forwardedCallId } from "./resend-safe";
import { createHttpServer } from "./client-errors";
import { closeRevokedSockets, routeUpgrades } from "./websocket-upgrades";

/** How to run one Anvil server. */
export interface AnvilConfig {
  port: number;
  host: string;
  databaseUrl?: string | undefined;
  /** Embedded database and images; undefined keeps the database in memory (tests). */
  dataDir: string;
  inMemoryDatabase?: boolean;
  /**
   * Aborted when the server is asked to stop during its start: a new embedded database being made is given up, and a
   * database that opened meanwhile is closed again at once, before anything else starts.
   */
  startUpStopped?: AbortSignal | undefined;
  forgeUrls?: string[] | undefined;
  apiToken?: string | undefined;
  /** A trusted proxy's header that names the signed-in user (AUTH_PROXY_HEADER). */
  authProxyHeader?: string | undefined;
  /** Origins besides the server's own whose pages may open a WebSocket with the session cookie. */
  allowedOrigins?: readonly string[] | undefined;
  /** Failed sign-ins per client address per minute before it must wait (default 10). */
  failedLoginLimit?: number;
  /**
   * How often the credentials (web sessions, users' tokens) of the streams open here are checked for having ended
   * elsewhere (default 5 s).
   */
  credentialSweepMs?: number;
  /** Queued jobs one user may have at once (0: no limit; default 200). */
  maxQueuedPerUser?: number;
  jobTimeoutMs: number;
  /** `fair` (default): users take turns; `fifo`: submission order. */
  scheduling?: JobServiceOptions["scheduling"];
  /** With several backends, a free GPU may take a job that needs the model it has loaded (default true). */
  modelAffinity?: boolean;
  logger: Logger;
  simulatorStepMs?: number;
  webDir?: string;
  probeIntervalMs?: number;
  coalesceMs?: number;
  /** Record XState inspection events for `debug.*` ("stately": also feed @statelyai/inspect); default "off". */
  inspect?: InspectionMode;
  /** How many inspection events are kept (default 5,000). */
  inspectionCapacity?: number;
  /** Job events younger than this stay replayable with `lastEventId` (default 7 days; see @anvil/api EventRetention). */
  eventRetentionMs?: number;
  /** Time between two prunes of the event log (default the retention, at most an hour). */
  eventPruneIntervalMs?: number;
  /** Cluster (with `databaseUrl`): how long the leader's lease lasts without renewal (default 10 s). */
  leaseMs?: number;
  /** Cluster: the URL other servers reach this one at (default http://HOST:PORT, 127.0.0.1 for a wildcard HOST). */
  clusterUrl?: string | undefined;
  /** Webhook signing key and timings. */
  webhooks?: WebhookSettings;
  /**
   * The most one WebSocket may hold unsent before it is closed (default 4 MiB, see ws-unsent-bound.ts). For tests: no
   * environment variable sets it.
   */
  maxUnsentWebSocketBytes?: number;
  /**
   * For tests: awaited once an API request is admitted, before its body is read, so that a test can hold a call
   * between its admission and what it does (a submission while its user is removed).
   */
  afterAdmission?: (caller: Caller) => Promise<void>;
  /** The most streams (WebSockets and SSE) one user who is not an admin may hold open (default 32). For tests. */
  maxStreamsPerUser?: number;
  /**
   * How long a WebSocket's client may send nothing before it is pinged (default 20 s); it is cut 5 s after an
   * unanswered ping. For tests: no environment variable sets it.
   */
  webSocketPingMs?: number;
}

/** A running server. */
export interface AnvilServer {
  url: string;
  port: number;
  /** The job service of this server's term as leader; throws on a follower (it forwards to the leader). */
  readonly service: JobService;
  /** Whether this server drives the GPUs now (always, without a cluster). */
  leads(): boolean;
  store: JobStore;
  users: UserStore;
  events: EventHub;
  simulator: ForgeSimulator | null;
  /** The inspection ring behind `debug.*`, or null when inspection is off. */
  inspector: Inspector | null;
  /** Inspection as it runs: `stately` only when Stately's inspector could be loaded too (else `on`). */
  inspection: InspectionMode;
  metrics: AnvilMetrics;
  /**
   * Stops taking work, lets running generations finish for up to `graceMs` (default 0), interrupts what still runs
   * (those jobs run again at the next start, as their next attempt, spared: see `JobService.stop`), closes.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
/** Both apps/server/src (tests) and apps/server/dist (the build) sit two levels below the repository root. */
const DEFAULT_WEB_DIR = here("../../web/dist");
const MIGRATIONS_FOLDER = here("../../../libs/persistence/drizzle");

const bothInspectors =
  (first: (event: InspectionEvent) => void, second: (event: InspectionEvent) => void) =>
  (event: InspectionEvent): void => {
    first(event);
    second(event);
  };

const unauthorized = (): never => {
  throw new TRPCError({ code: "UNAUTHORIZED", message: "Unauthorized" });
};

/** How long a stop waits for the calls that change something, which it had taken, to be answered. */
const CALLS_IN_FLIGHT_MS = 10_000;

/**
 * How long a stop waits for the connections it took just before it stopped listening to send their requests (a
 * follower's forwarded call, sent the moment it connected), before it closes those still without one.
 */
const FRESH_CONNECTIONS_MS = 2_000;

/** `{ callId }` for a call a follower forwarded with one (see resend-safe.ts), else nothing. */
const callIdOf = (req: IncomingMessage): { callId?: string } => {
  const callId = forwardedCallId(req);
  return callId === undefined ? {} : { callId };
};

/** A call that needs the leader's job service, on a server that does not (or no longer) lead: the caller tries again. */
const notLeading = (): never => {
  throw new TRPCError({
    code: "SERVICE_UNAVAILABLE",
    message: "This server does not lead the cluster (any more); try again",
  });
};

/** The job service of a follower answering a call that needs none: any use of it is refused as by a stepped-down leader. */
const NOT_LEADING = new Proxy({} as JobService, { get: notLeading });

/** Whether `host` is this machine's loopback only: 127.0.0.0/8, ::1 or localhost. */
const isLoopback = (host: string): boolean =>
  host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);

/** Opens the database, rebuilds the queue, and serves the API, the subscriptions, the images and the web app. */
export async function startAnvil(config: AnvilConfig): Promise<AnvilServer> {
  const { logger } = config;
  const serverLog: LogHook = (message, fields, level = "info") => logger[level](fields, message);
  const storage = await openStorage({ ...config, migrationsFolder: MIGRATIONS_FOLDER }, logger);
  const { database, store, users, sharedImages, images } = storage;
  // Not awaited: a start waits for nothing it only reports.
  if (config.databaseUrl) void warnOfClockSkew(database, serverLog);
  let simulator: ForgeSimulator | null = null;
  let forgeUrls = config.forgeUrls;
  if (!forgeUrls) {
    simulator = await startForgeSimulator({ stepMs: config.simulatorStepMs ?? 150 });
    forgeUrls = [simulator.url];
    logger.info(
      { simulator: simulator.url },
      `FORGE_URL is not set: using the built-in Forge simulator at ${simulator.url}`,
    );
  }
  // The names this server is known by besides the machine's own.
  const ownNames = [config.host, ...(config.clusterUrl ? [new URL(config.clusterUrl).hostname] : [])];
  const events = new EventHub();
  // The streams and WebSockets of a web session or a user's token end with it (signed out here or elsewhere, expired,
  // the user removed).
  const credentials = new OpenCredentials({
    users,
    ended: (ended) => events.publish({ kind: "credentialsEnded", ...ended }),
    ...(config.credentialSweepMs !== undefined ? { sweepMs: config.credentialSweepMs } : {}),
    logger,
  });
  const auth = new Authenticator({
    users,
    apiToken: config.apiToken,
    proxyHeader: config.authProxyHeader,
    unknownHost: unknownHostNames(ownNames, config.allowedOrigins ?? []),
  });
  await auth.start();
  // One count of removed users for the server's life, whose terms as the leader come and go.
  const removals = new UserRemovals();
  const gate = new AuthGate({
    auth,
    logger,
    removals,
    ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
    ...(config.failedLoginLimit !== undefined ? { failedLoginLimit: config.failedLoginLimit } : {}),
    ownNames,
    credentials,
    // Guesses spread over the servers of a cluster count as many as at one server.
    ...(config.databaseUrl
      ? { recordShared: (address: string, windowMs: number) => users.recordFailedSignIn(address, windowMs) }
      : {}),
  });
  const inspection = config.inspect ?? "off";
  const inspector = inspection === "off" ? null : new Inspector({ capacity: config.inspectionCapacity });
  const stately = inspection === "stately" ? await statelyInspector(logger) : null;
  const backendLabels = forgeUrls.map(normalizeBackendUrl);
  const metrics = new AnvilMetrics(events, backendLabels, () => cluster?.leaseLapsed ?? false);
  // Known once the server listens; no submission is answered (and no webhook sent) before that.
  let listeningPort = -1;
  // This server's row among the cluster's servers (PostgreSQL only), known once it listens.
  let members: ClusterServers | null = null;
  const startedAt = new Date();
  // The cluster's servers' URLs, asked at most once a second: a batch of jobs with a callbackUrl asks once.
  let peerUrls: { at: number; urls: Promise<string[]> } | null = null;
  const livePeerUrls = (): Promise<string[]> => {
    if (!members) return Promise.resolve([]);
    if (peerUrls && performance.now() - peerUrls.at < 1_000) return peerUrls.urls;
    const urls = members.live().then((servers) => servers.map((server) => server.url));
    peerUrls = { at: performance.now(), urls };
    // A failed look is not kept: the next submission asks again.
    urls.catch(() => (peerUrls = null));
    return urls;
  };
  const { forbiddenReceivers, callbackRefusal } = webhookReceivers({
    forgeUrls,
    ownNames,
    port: () => listeningPort,
    clusterUrl: config.clusterUrl,
    ...(config.databaseUrl ? { clusterServers: livePeerUrls } : {}),
  });
  // Every server delivers webhooks, leader or not: the outbox is in the shared database, each row claimed once.
  const webhooks = startWebhooks(
    new WebhookStore(database),
    metrics.registry,
    { ...config.webhooks, fetch: config.webhooks?.fetch ?? guardedFetch(forbiddenReceivers) },
    serverLog,
  );
  const serviceOptions = (
    termStore: JobStore,
    termImages: ImageStore,
    backends: readonly ForgeClient[],
    tookOver: boolean,
  ): JobServiceOptions => ({
    // A leader that took over from another: the calls held while it was elected (a cancel) come before its first start.
    ...(tookOver ? { firstProbeAfterMs: HELD_CALLS_MS } : {}),
    store: termStore,
    events,
    removals,
    backends,
    images: termImages,
    jobTimeoutMs: config.jobTimeoutMs,
    scheduling: config.scheduling ?? "fair",
    ...(config.modelAffinity === undefined ? {} : { modelAffinity: config.modelAffinity }),
    // Why each job got a GPU ("bob's turn: served least recently"), for /inspect and the debug log; the owner is no
    // metric label, a log field only.
    onDispatch: (decision) => {
      logger.debug(decision, "dispatch");
      inspector?.dispatches.record(decision);
    },
    ...(config.maxQueuedPerUser !== undefined ? { maxQueuedPerUser: config.maxQueuedPerUser } : {}),
    ...(config.probeIntervalMs ? { probeIntervalMs: config.probeIntervalMs } : {}),
    ...(config.eventRetentionMs !== undefined ? { eventRetentionMs: config.eventRetentionMs } : {}),
    ...(config.eventPruneIntervalMs !== undefined ? { eventPruneIntervalMs: config.eventPruneIntervalMs } : {}),
    log: serverLog,
    ...(inspector ? { inspect: stately ? bothInspectors(inspector.observe, stately) : inspector.observe } : {}),
    observers: [
      metrics.observer,
      logObserver(logger, backendLabels, () => cluster?.leaseLapsed ?? false),
      webhooks.observer,
    ],
    callbackRefusal,
  });
  // The job service of this server's term as the one that drives the GPUs: always, on the embedded database; on
  // PostgreSQL while this server holds the cluster's lease (its writes fenced with the term's epoch).
  let service: JobService | null = null;
  const leaseMs = config.leaseMs ?? 10_000;
  // The backends it leads with go on record ([]: a simulator of its own), so that servers with another list warn.
  const leaseBackends = simulator ? [] : backendLabels;
  // So does a fingerprint of its webhook secret: every server signs what it delivers, so servers with another warn.
  const leaseSecret = webhookSecretFingerprint(config.webhooks?.secret);
  const lease = config.databaseUrl
    ? (holder: string, url: string) => new LeaderLease(database.db, holder, url, leaseMs, leaseBackends, leaseSecret)
    : null;
  // The Forge clients of the term that drives the GPUs now (see term-backends.ts).
  let backends: TermBackends | null = null;
  const lead = async (termStore: JobStore, termImages: ImageStore, tookOver = false): Promise<void> => {
    const term = termBackends(forgeUrls, forgeFetch, config.jobTimeoutMs);
    backends = term;
    const started = await JobService.start(serviceOptions(termStore, termImages, term.clients, tookOver)).catch(
      (error: unknown) => {
        term.end();
        throw error;
      },
    );
    service = started;
    await metrics
      .attach(started, () => countJobsByStatus(database))
      .catch((error: unknown) => {
        logger.warn({ err: error }, "could not count the jobs in the database; anvil_jobs counts changes from now on");
      });
  };
  if (!lease) await lead(store, images);
  const liveService = (): JobService => service ?? notLeading();
  let ownUrl = "";
  // `cluster.servers`: the servers of the cluster as the database has them, or on the embedded database this one.
  const clusterServers = async (): Promise<ClusterServerView[]> => {
    if (!members) {
      const now = new Date().toISOString();
      return [
        {
          url: ownUrl,
          version: ANVIL_VERSION,
          startedAt: startedAt.toISOString(),
          lastSeenAt: now,
          leader: true,
          self: true,
          stopping: closing !== null,
          answering: true,
        },
      ];
    }
    const own = members;
    return (await own.live()).map((server) => ({
      url: server.url,
      version: server.version,
      startedAt: server.startedAt.toISOString(),
      lastSeenAt: server.lastSeenAt.toISOString(),
      leader: server.leader,
      self: own.isOwn(server),
      stopping: server.stopping,
      answering: server.answering,
    }));
  };
  const createContext = ({ req }: { req: IncomingMessage }): Context => ({
    // Every request reaches tRPC through the gate, which admitted it as someone.
    user: gate.callerOf(req) ?? unauthorized(),
    // A follower answers the calls that need no leader itself (request-router.ts), with no job service to hand.
    service: service ?? (answeredByAnyServer(req) ? NOT_LEADING : liveService()),
    clusterServers,
    // A follower's id for a call it forwarded: the default idempotency key of its submissions (call-keys.ts).
    ...callIdOf(req),
    store,
    users,
    events,
    database: database.kind,
    inspector,
    ...(config.coalesceMs !== undefined ? { coalesceMs: config.coalesceMs } : {}),
  });
  const transport = apiTransport({
    createContext,
    logger,
    metrics,
    webSocketPingMs: config.webSocketPingMs ?? 20_000,
  });
  const { trpc, trpcBulk, wss, webSockets } = transport;
  const webDir = config.webDir ?? DEFAULT_WEB_DIR;

  // Server-Sent Events streams this server serves as leader: ended when its term ends, so that their clients
  // reconnect (resuming from the shared event log) and reach the next leader.
  const streams = new Set<ServerResponse>();
  const streamsPerUser = new StreamsPerUser(config.maxStreamsPerUser);
  let cluster: ClusterRole | null = null;
  let selfUrl = "";
  // How a follower finds the leader it forwards requests and WebSocket upgrades to.
  const toLeader = leaderLink({
    leaderUrl: async () => (service ? selfUrl : (await cluster?.leader())?.url),
    cluster: async () => (await cluster?.leader())?.url,
    forgetLeader: () => cluster?.forgetLeader(),
    leaseMs,
    log: serverLog,
  });
  const route = routeRequest({
    gate,
    ...(config.afterAdmission ? { afterAdmission: config.afterAdmission } : {}),
    trpc,
    trpcBulk,
    streams,
    streamsPerUser,
    credentials,
    follows: () => cluster !== null && !service,
    forward: (req, res) =>
      forwardToLeader(req, res, {
        ...toLeader.lookup,
        maxBodyBytes: (request) => (isBulkSubmission(urlOf(request)) ? MAX_BULK_BODY_BYTES : MAX_BODY_BYTES),
      }),
    metrics,
    images,
    imageOwner: (jobId) => liveService().imageOwner(jobId),
    webDir,
    allowedOrigins: config.allowedOrigins ?? [],
    readiness: () =>
      readiness({
        // Asked, not learnt from writes: an idle server (or a follower) writes nothing that would tell.
        takesWrites: () => store.takesWrites(),
        writesFailing: () => service?.writesFailing ?? false,
        // A leader cut off from the database for LEASE_MS no longer leads, whatever it still runs: another may.
        role: () => (!cluster ? "single" : service && !cluster.leaseLapsed ? "leader" : "follower"),
        stopping: () => closing !== null,
        // Another running server leads at this one's CLUSTER_URL: what it forwards comes back to itself.
        leaderUnreachable: async () => cluster?.ownUrlTaken === true || (await toLeader.unreachable()),
      }),
  });
  const answer = answerSafely((req, res) => {
    // Said to the follower that forwarded the call: this server takes its call id (see resend-safe.ts).
    const callId = forwardedCallId(req);
    if (callId !== undefined) {
      res.setHeader(CALL_ID_HEADER, callId);
      res.setHeader(CALL_KEYS_HEADER, CALL_KEYED);
    }
    return route(req, res);
  }, logger);
  const server: Server = createHttpServer(answer);
  const calls = callsInFlight(server);
  // A removed user's WebSocket connections close at once, and so do a session's once it ended: calls over them were
  // admitted as that user, with that session.
  const stopRevoked = closeRevokedSockets(wss, gate, events, credentials);
  routeUpgrades(server, {
    gate,
    wss,
    logger,
    leader: () => (cluster && !service ? toLeader.lookup : null),
    plain: answer,
    maxUnsentBytes: config.maxUnsentWebSocketBytes,
    onFellBehind: () => metrics.fellBehind("websocket"),
    streamsPerUser,
  });

  let closing: Promise<void> | null = null;
  const close = ({ graceMs = 0 }: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      try {
        // Requests are still answered during the grace: a submission is stored `queued` (it runs at the next start,
        // or on another server of a cluster), and subscribers see the running generations end.
        if (cluster) {
          await cluster.stop(async () => void (await service?.stop(graceMs)));
          // The lease is handed over: a call taken from now on goes to the next leader, as on a follower (one a
          // follower forwarded here is sent back to it, which asks the cluster again).
          service = null;
        } else await service?.stop(graceMs);
        await webhooks.dispatcher.stop();
        await calls.stopTaking(FRESH_CONNECTIONS_MS);
        await transport.endStreams(streams, 1_000);
        // A call that changes something, taken and not yet answered (its body still on its way, or forwarded to the
        // next leader), is answered before the connections close: cut off, its caller could not tell what it did.
        await calls.settled(CALLS_IN_FLIGHT_MS);
        stopRevoked();
        credentials.stop();
        metrics.close();
      } finally {
        // Whatever failed above, the connections, the database and DATA_DIR's lock are let go.
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await storage.close().finally(() => simulator?.close());
      }
    })());

  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.port, config.host, () => resolve());
    });
  } catch (error) {
    // E.g. the port is taken: what was started (the job service, the database, the simulator) is stopped again.
    await close().catch(() => {});
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  listeningPort = port;
  webhooks.dispatcher.start();
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  ownUrl = url;
  if (!gate.required && !isLoopback(config.host)) {
    // Open to the network with nobody signing in: every caller is the admin `local`.
    logger.warn(
      { host: config.host },
      `HOST ${config.host} serves other machines and neither API_TOKEN nor AUTH_PROXY_HEADER is set: anyone who ` +
        `reaches port ${port} is the admin "local" (set API_TOKEN, or HOST=127.0.0.1)`,
    );
  }
  if (lease) {
    const wildcard = config.host === "0.0.0.0" || config.host === "::";
    const clusterUrl = config.clusterUrl ?? (wildcard ? `http://127.0.0.1:${port}` : url);
    if (wildcard && !config.clusterUrl) {
      // Servers on other machines would forward to their own 127.0.0.1 and wait there for a leader that never answers.
      logger.warn(
        { clusterUrl },
        `CLUSTER_URL is not set and HOST ${config.host} is a wildcard: the other servers of the cluster reach this ` +
          `one at ${clusterUrl}, which only works for servers on this machine; set CLUSTER_URL to this machine's address`,
      );
    }
    selfUrl = url;
    const holder = `${clusterUrl} ${process.pid} ${randomUUID().slice(0, 8)}`;
    const termLease = lease(holder, clusterUrl);
    members = new ClusterServers(database.db, holder, clusterUrl, ANVIL_VERSION, leaseMs);
    ownUrl = clusterUrl;
    cluster = new ClusterRole({
      member: members,
      lease: termLease,
      leaseMs,
      lead: (epoch) => {
        const fence = termLease.fenceOf(epoch);
        // The first term of a database follows no leader: no call can be held for a job of an earlier one.
        return lead(store.withFence(fence), sharedImages?.withFence(fence) ?? images, epoch > 1);
      },
      stepDown: async () => {
        const ending = service;
        service = null;
        metrics.detach();
        // The backends are the next leader's now: this term's generations stop without touching them, and their
        // calls cut off here say nothing of the backends' health.
        ending?.monitor.release();
        backends?.end();
        backends = null;
        // Nothing more is written in this term: the next leader reads the truth from the database.
        for (const stream of streams) stream.destroy();
        webSockets.broadcastReconnectNotification();
        for (const client of wss.clients) client.terminate();
        await ending?.stop(0, { abandon: true });
      },
      log: serverLog,
      signInRequired: gate.required,
    });
    // A leader that hands the lease back says so (a SIGTERM, a rolling restart): this server looks at once, not at its
    // next tick. Listened to until the database closes.
    const role = cluster;
    await database
      .listen(LEASE_RELEASED_CHANNEL, () => role.lookNow())
      .catch((error: unknown) => {
        serverLog(
          "could not listen for a leader's hand-over: this server takes over at its next look at the lease instead",
          { error: databaseErrorText(error) },
          "warn",
        );
      });
    await cluster.start();
    if (!service) {
      const leader = await cluster.leader();
      // Its own address: an earlier run of this server (killed, so it never gave the lease back) holds it still.
      const earlierSelf = leader?.url === clusterUrl;
      serverLog(
        earlierSelf
          ? `this server follows an earlier run of itself at ${clusterUrl}, which still holds the cluster's lease (it stopped without giving it back): calls wait until the lease runs out, within LEASE_MS, and a server of the cluster leads (this one, if it is alone)`
          : "this server follows: it forwards API calls and images to the leader, and takes over if it goes",
        { leader: leader?.url ?? "none yet", ...(earlierSelf ? { holder: leader.holder } : {}) },
      );
    }
  }

  return {
    url,
    port,
    get service() {
      if (!service) throw new Error("This server does not lead the cluster: it forwards to the leader");
      return service;
    },
    leads: () => service !== null,
    inspection: inspection === "stately" && stately === null ? "on" : inspection,
    store,
    users,
    events,
    simulator,
    inspector,
    metrics,
    close,
  };
}

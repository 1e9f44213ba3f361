import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  appRouter,
  EventHub,
  Inspector,
  JobService,
  LOCAL_USER,
  mayAccess,
  openApiDocument,
  SubscriptionSlots,
} from "@anvil/api";
import type { Context, JobServiceOptions } from "@anvil/api";
import { makeForgeClient, normalizeBackendUrl, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import {
  FileImageStore,
  JobStore,
  LeaderLease,
  openDatabase,
  PgImageStore,
  UserStore,
  WebhookStore,
} from "@anvil/persistence";
import type { ImageStore } from "@anvil/persistence";
import { TRPCError } from "@trpc/server";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { InspectionEvent } from "xstate";
import { Authenticator } from "./auth";
import { AuthGate } from "./auth-gate";
import { ClusterRole } from "./cluster-role";
import { acquireDataDirLock } from "./data-dir-lock";
import { forgeFetch } from "./forge-fetch";
import { json, readBody } from "./http-body";
import { forwardHttp, forwardUpgrade, LeaderUnreachable, noLeader } from "./leader-proxy";
import { statelyInspector } from "./inspection";
import type { InspectionMode } from "./inspection";
import { countJobsByStatus } from "./job-counts";
import { logObserver } from "./logger";
import { AnvilMetrics } from "./metrics";
import { MAX_SUBSCRIPTIONS_PER_SOCKET, oversizedReply } from "./request-limits";
import { sendImage } from "./send-image";
import { serveWebApp } from "./static-files";
import { pointsAtSelf, startWebhooks } from "./webhooks";
import type { WebhookSettings } from "./webhooks";
import { batchFrames } from "./ws-batching";

/** How to run one Anvil server. */
export interface AnvilConfig {
  port: number;
  host: string;
  databaseUrl?: string | undefined;
  /** Embedded database and images; undefined keeps the database in memory (tests). */
  dataDir: string;
  inMemoryDatabase?: boolean;
  forgeUrls?: string[] | undefined;
  apiToken?: string | undefined;
  /** A trusted proxy's header that names the signed-in user (AUTH_PROXY_HEADER). */
  authProxyHeader?: string | undefined;
  /** Origins besides the server's own whose pages may open a WebSocket with the session cookie. */
  allowedOrigins?: readonly string[] | undefined;
  /** Failed sign-ins per client address per minute before it must wait (default 10). */
  failedLoginLimit?: number;
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
  metrics: AnvilMetrics;
  /**
   * Stops taking work, lets running generations finish for up to `graceMs` (default 0), interrupts what still runs
   * (those jobs run again at the next start, as the same attempt), closes.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
/** Both apps/server/src (tests) and apps/server/dist (the build) sit two levels below the repository root. */
const DEFAULT_WEB_DIR = here("../../web/dist");
const MIGRATIONS_FOLDER = here("../../../libs/persistence/drizzle");
const IMAGE_PATH = /^\/images\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.png$/;
const MAX_BODY_BYTES = 256 * 1024;
/** The most calls one tRPC batch (HTTP or WebSocket message) may carry; clients batch at most this many. */
export const MAX_BATCH_CALLS = 50;

const bothInspectors =
  (first: (event: InspectionEvent) => void, second: (event: InspectionEvent) => void) =>
  (event: InspectionEvent): void => {
    first(event);
    second(event);
  };

/** /openapi.json: built once from the router's schemas; the same for every request. */
const OPENAPI = JSON.stringify(openApiDocument(appRouter, { version: "0.1.0" }));

const unauthorized = (): never => {
  throw new TRPCError({ code: "UNAUTHORIZED", message: "Unauthorized" });
};

/** Opens the database, rebuilds the queue, and serves the API, the subscriptions, the images and the web app. */
export async function startAnvil(config: AnvilConfig): Promise<AnvilServer> {
  const { logger } = config;
  // The embedded database belongs to one process: the lock is taken before PGlite touches its files, and
  // given back only after it closed them.
  const lock = config.databaseUrl || config.inMemoryDatabase ? null : await acquireDataDirLock(config.dataDir);
  const database = await openDatabase({
    ...(config.databaseUrl ? { url: config.databaseUrl } : config.inMemoryDatabase ? {} : { dataDir: config.dataDir }),
    migrationsFolder: MIGRATIONS_FOLDER,
  }).catch(async (error: unknown) => {
    await lock?.release();
    throw error;
  });
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
  const store = new JobStore(database);
  const users = new UserStore(database);
  const gate = new AuthGate({
    auth: new Authenticator({ users, apiToken: config.apiToken, proxyHeader: config.authProxyHeader }),
    logger,
    ...(config.allowedOrigins ? { allowedOrigins: config.allowedOrigins } : {}),
    ...(config.failedLoginLimit !== undefined ? { failedLoginLimit: config.failedLoginLimit } : {}),
  });
  const events = new EventHub();
  // Every server of a cluster serves every image, whichever server made it: on PostgreSQL they live there.
  const sharedImages = config.databaseUrl ? new PgImageStore(database) : null;
  const images: ImageStore = sharedImages ?? new FileImageStore(join(config.dataDir, "images"));
  const inspection = config.inspect ?? "off";
  const inspector = inspection === "off" ? null : new Inspector({ capacity: config.inspectionCapacity });
  const stately = inspection === "stately" ? await statelyInspector(logger) : null;
  const backendLabels = forgeUrls.map(normalizeBackendUrl);
  const metrics = new AnvilMetrics(events, backendLabels);
  const backends = forgeUrls.map((baseUrl) => makeForgeClient({ baseUrl, fetch: forgeFetch }));
  // Every server delivers webhooks, leader or not: the outbox is in the shared database, each row claimed once.
  const webhooks = startWebhooks(
    new WebhookStore(database),
    metrics.registry,
    config.webhooks ?? {},
    (message, fields) => logger.info(fields, message),
  );
  // Known once the server listens; no submission is answered before that.
  let listeningPort = -1;
  const ownNames = [config.host, ...(config.clusterUrl ? [new URL(config.clusterUrl).hostname] : [])];
  const serviceOptions = (termStore: JobStore, termImages: ImageStore): JobServiceOptions => ({
    store: termStore,
    events,
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
    log: (message, fields) => logger.info(fields, message),
    ...(inspector ? { inspect: stately ? bothInspectors(inspector.observe, stately) : inspector.observe } : {}),
    observers: [metrics.observer, logObserver(logger, backendLabels), webhooks.observer],
    isOwnUrl: (url) => pointsAtSelf(url, listeningPort, ownNames),
  });
  // The job service of this server's term as the one that drives the GPUs: always, on the embedded database; on
  // PostgreSQL while this server holds the cluster's lease (its writes fenced with the term's epoch).
  let service: JobService | null = null;
  const lease = config.databaseUrl
    ? (holder: string, url: string) => new LeaderLease(database.db, holder, url, config.leaseMs ?? 10_000)
    : null;
  const lead = async (termStore: JobStore, termImages: ImageStore): Promise<void> => {
    const started = await JobService.start(serviceOptions(termStore, termImages));
    service = started;
    await metrics
      .attach(started, () => countJobsByStatus(database))
      .catch((error: unknown) => {
        logger.warn({ err: error }, "could not count the jobs in the database; anvil_jobs counts changes from now on");
      });
  };
  if (!lease) await lead(store, images);
  const liveService = (): JobService => {
    if (service) return service;
    throw new TRPCError({ code: "SERVICE_UNAVAILABLE", message: "This server no longer leads the cluster; try again" });
  };
  const createContext = ({ req }: { req: IncomingMessage }): Context => ({
    // Every request reaches tRPC through the gate, which admitted it as someone.
    user: gate.callerOf(req) ?? unauthorized(),
    service: liveService(),
    store,
    users,
    events,
    database: database.kind,
    inspector,
    ...(config.coalesceMs !== undefined ? { coalesceMs: config.coalesceMs } : {}),
  });
  const trpc = createHTTPHandler({
    router: appRouter,
    createContext,
    basePath: "/trpc/",
    maxBodySize: MAX_BODY_BYTES,
    // One request may carry at most this many calls: a batch of a thousand submits or lists is one client
    // taking everyone's turn. Larger batches are a 400 and run nothing.
    maxBatchSize: MAX_BATCH_CALLS,
    onError: ({ error, path }) => {
      if (error.code === "INTERNAL_SERVER_ERROR") logger.error({ err: error, path }, "procedure failed");
    },
  });
  const webDir = config.webDir ?? DEFAULT_WEB_DIR;

  // Server-Sent Events streams this server serves as leader: ended when its term ends, so that their clients
  // reconnect (resuming from the shared event log) and reach the next leader.
  const streams = new Set<ServerResponse>();
  let cluster: ClusterRole | null = null;
  let selfUrl = "";
  /**
   * A follower's answer: the leader's. Across a failover (the leader killed, the lease running out, the next
   * leader taking over) the request waits for the next leader, as long as nothing reached the old one.
   */
  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // A request a follower forwarded here, to a server that no longer leads, is not sent round again.
    if (req.headers["x-anvil-forwarded"]) return noLeader(res, "the server it reached no longer leads");
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) return json(res, 413, { error: { message: "Body too large", code: "PAYLOAD_TOO_LARGE" } });
    const deadline = Date.now() + (config.leaseMs ?? 10_000) * 2 + 5_000;
    let why = "an election is under way";
    while (!res.destroyed && Date.now() < deadline) {
      // This server may have become the leader meanwhile: then it answers itself, through the same path.
      const target = service ? selfUrl : (await cluster?.leader())?.url;
      if (target) {
        try {
          return await forwardHttp(req, body, res, new URL(target));
        } catch (error) {
          if (!(error instanceof LeaderUnreachable)) throw error;
          why = error.message;
          cluster?.forgetLeader();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    noLeader(res, why);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://anvil").pathname;
    if (await gate.route(req, res, path)) return;
    // /metrics is open like the other paths outside /trpc, unless sign-in is required: then it needs it too.
    const api = path === "/trpc" || path.startsWith("/trpc/") || path.startsWith("/images/");
    if (api || (path === "/metrics" && gate.required)) {
      const { caller } = await gate.admit(req, res);
      if (!caller) return;
    }
    if (cluster && !service && (path.startsWith("/trpc") || path.startsWith("/images/"))) {
      return forward(req, res);
    }
    if (path.startsWith("/trpc/")) {
      const oversized = oversizedReply(new URL(req.url ?? "/", "http://anvil"));
      if (oversized) {
        return json(res, 413, {
          error: { message: oversized, code: -32600, data: { code: "PAYLOAD_TOO_LARGE", httpStatus: 413 } },
        });
      }
      if (req.headers.accept?.includes("text/event-stream")) {
        streams.add(res);
        res.once("close", () => streams.delete(res));
      }
      return trpc(req, res);
    }
    if (path === "/trpc") {
      return json(res, 404, { error: { message: "Name a procedure: /trpc/<procedure>", code: "NOT_FOUND" } });
    }
    if (path === "/openapi.json" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" }).end(OPENAPI);
      return;
    }
    if (path === "/metrics" && (req.method === "GET" || req.method === "HEAD")) {
      const { contentType, body } = await metrics.text();
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body);
      return;
    }
    if (path.startsWith("/images/")) {
      const id = IMAGE_PATH.exec(path)?.[1];
      const caller = gate.callerOf(req) ?? LOCAL_USER;
      const owner = id ? await liveService().imageOwner(id) : null;
      // Another user's image is as absent as one that never was.
      const image = id && owner !== null && mayAccess(caller, owner) ? await images.read(id) : null;
      // Behind sign-in an image is one user's: no shared cache may keep it.
      const scope = gate.required || caller !== LOCAL_USER ? "private" : "public";
      if (image && (await sendImage(res, image, { "cache-control": `${scope}, max-age=31536000, immutable` }))) {
        return;
      }
      return json(res, 404, { error: { message: "No such image", code: "NOT_FOUND" } });
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return json(res, 405, { error: { message: "Method not allowed" } });
    return serveWebApp(req, res, webDir, path);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error, url: req.url }, "request failed");
      if (!res.headersSent) json(res, 500, { error: { message: "Internal error" } });
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    // Called once per connection: its subscriptions share one bound.
    createContext: (options) => ({
      ...createContext(options),
      subscriptions: new SubscriptionSlots(MAX_SUBSCRIPTIONS_PER_SOCKET),
    }),
    keepAlive: { enabled: true, pingMs: 20_000, pongWaitMs: 5_000 },
    maxBatchSize: MAX_BATCH_CALLS,
  });
  // A removed user's WebSocket connections close at once: calls over them were admitted as that user.
  const wsCallers = new WeakMap<object, string>();
  wss.on("connection", (ws, req: IncomingMessage) => {
    const caller = gate.callerOf(req);
    if (caller) wsCallers.set(ws, caller.name);
  });
  const stopRevoked = events.subscribe(
    (message) => {
      if (message.kind !== "revoked") return;
      for (const client of wss.clients) if (wsCallers.get(client) === message.user) client.terminate();
    },
    { internal: true },
  );
  server.on("upgrade", (req, socket, head) => {
    // Node hands over an upgrade's socket without an error listener, and ws adds its own only in handleUpgrade: a
    // client that resets the connection before that (e.g. after its 401) would otherwise crash the process.
    socket.on("error", (error) => {
      logger.debug({ err: error }, "upgrade socket failed");
      socket.destroy();
    });
    const path = new URL(req.url ?? "/", "http://anvil").pathname;
    if (path !== "/trpc" && path !== "/trpc/") return socket.destroy();
    void gate.admitUpgrade(req, socket).then(
      ({ caller }) => {
        if (caller) upgradeAdmitted(req, socket, head);
      },
      (error: unknown) => {
        logger.error({ err: error }, "could not tell who a WebSocket upgrade is");
        socket.destroy();
      },
    );
  });
  const upgradeAdmitted = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (cluster && !service) {
      void cluster.leader().then((leader) => {
        if (!leader || req.headers["x-anvil-forwarded"]) return socket.destroy();
        forwardUpgrade(req, socket, head, new URL(leader.url));
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      batchFrames(ws, socket);
      wss.emit("connection", ws, req);
    });
  };

  let closing: Promise<void> | null = null;
  const close = ({ graceMs = 0 }: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      // Requests are still answered during the grace: a submission is stored `queued` (it runs at the next start,
      // or on another server of a cluster), and subscribers see the running generations end.
      if (cluster) await cluster.stop(async () => void (await service?.stop(graceMs)));
      else await service?.stop(graceMs);
      await webhooks.dispatcher.stop();
      server.close();
      stopRevoked();
      metrics.close();
      wsHandler.broadcastReconnectNotification();
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await database.close();
      await lock?.release();
      await simulator?.close();
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
  if (lease) {
    const wildcard = config.host === "0.0.0.0" || config.host === "::";
    const clusterUrl = config.clusterUrl ?? (wildcard ? `http://127.0.0.1:${port}` : url);
    selfUrl = url;
    const termLease = lease(`${clusterUrl} ${process.pid} ${randomUUID().slice(0, 8)}`, clusterUrl);
    cluster = new ClusterRole({
      lease: termLease,
      leaseMs: config.leaseMs ?? 10_000,
      lead: (epoch) => {
        const fence: Parameters<JobStore["withFence"]>[0] = (tx) => termLease.fence(tx, epoch);
        return lead(store.withFence(fence), sharedImages?.withFence(fence) ?? images);
      },
      stepDown: async () => {
        const ending = service;
        service = null;
        // Nothing more is written in this term: the next leader reads the truth from the database.
        for (const stream of streams) stream.destroy();
        wsHandler.broadcastReconnectNotification();
        for (const client of wss.clients) client.terminate();
        await ending?.stop(0, { abandon: true });
      },
      log: (message, fields) => logger.info(fields, message),
    });
    await cluster.start();
  }

  return {
    url,
    port,
    get service() {
      if (!service) throw new Error("This server does not lead the cluster: it forwards to the leader");
      return service;
    },
    leads: () => service !== null,
    store,
    users,
    events,
    simulator,
    inspector,
    metrics,
    close,
  };
}

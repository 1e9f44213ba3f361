import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { appRouter, EventHub, Inspector, JobService } from "@anvil/api";
import type { Context, JobServiceOptions } from "@anvil/api";
import { makeForgeClient, normalizeBackendUrl, startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { FileImageStore, JobStore, LeaderLease, openDatabase, PgImageStore } from "@anvil/persistence";
import type { ImageStore } from "@anvil/persistence";
import { TRPCError } from "@trpc/server";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { InspectionEvent } from "xstate";
import { isAuthorized, SESSION_COOKIE, tokenMatches } from "./auth";
import { ClusterRole } from "./cluster-role";
import { acquireDataDirLock } from "./data-dir-lock";
import { forgeFetch } from "./forge-fetch";
import { forwardHttp, forwardUpgrade, LeaderUnreachable, noLeader } from "./leader-proxy";
import { statelyInspector } from "./inspection";
import type { InspectionMode } from "./inspection";
import { countJobsByStatus } from "./job-counts";
import { logObserver } from "./logger";
import { AnvilMetrics } from "./metrics";
import { sendImage } from "./send-image";
import { serveWebApp } from "./static-files";

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
  jobTimeoutMs: number;
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

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
};

/** The whole body, or null past `limit` bytes. */
const readBody = async (req: IncomingMessage, limit: number): Promise<Buffer | null> => {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
};

const readJson = async (req: IncomingMessage): Promise<unknown> => {
  const body = await readBody(req, 4096);
  if (body === null) return undefined;
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
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
  const serviceOptions = (termStore: JobStore, termImages: ImageStore): JobServiceOptions => ({
    store: termStore,
    events,
    backends,
    images: termImages,
    jobTimeoutMs: config.jobTimeoutMs,
    ...(config.probeIntervalMs ? { probeIntervalMs: config.probeIntervalMs } : {}),
    ...(config.eventRetentionMs !== undefined ? { eventRetentionMs: config.eventRetentionMs } : {}),
    ...(config.eventPruneIntervalMs !== undefined ? { eventPruneIntervalMs: config.eventPruneIntervalMs } : {}),
    log: (message, fields) => logger.info(fields, message),
    ...(inspector ? { inspect: stately ? bothInspectors(inspector.observe, stately) : inspector.observe } : {}),
    observers: [metrics.observer, logObserver(logger, backendLabels)],
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
  const createContext = (): Context => ({
    service: liveService(),
    store,
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
    if (path === "/auth/login" && req.method === "POST") {
      const body = (await readJson(req)) as { token?: unknown } | undefined;
      if (!config.apiToken) return json(res, 200, { ok: true, required: false });
      if (!tokenMatches(body?.token, config.apiToken)) return json(res, 401, { ok: false, error: "Wrong token" });
      return json(
        res,
        200,
        { ok: true, required: true },
        {
          "set-cookie": `${SESSION_COOKIE}=${encodeURIComponent(config.apiToken)}; HttpOnly; SameSite=Strict; Path=/`,
        },
      );
    }
    if (path === "/auth/status") {
      return json(res, 200, { required: Boolean(config.apiToken), authorized: isAuthorized(req, config.apiToken) });
    }
    // /metrics is open like the other paths outside /trpc, unless API_TOKEN is set: then it needs the token too.
    const guarded = path === "/trpc" || path.startsWith("/trpc/") || path.startsWith("/images/") || path === "/metrics";
    if (guarded && !isAuthorized(req, config.apiToken)) {
      return json(res, 401, {
        error: { message: "Unauthorized: send Authorization: Bearer <API_TOKEN>", code: "UNAUTHORIZED" },
      });
    }
    if (cluster && !service && (path.startsWith("/trpc") || path.startsWith("/images/"))) {
      return forward(req, res);
    }
    if (path.startsWith("/trpc/")) {
      if (req.headers.accept?.includes("text/event-stream")) {
        streams.add(res);
        res.once("close", () => streams.delete(res));
      }
      return trpc(req, res);
    }
    if (path === "/trpc") {
      return json(res, 404, { error: { message: "Name a procedure: /trpc/<procedure>", code: "NOT_FOUND" } });
    }
    if (path === "/metrics" && (req.method === "GET" || req.method === "HEAD")) {
      const { contentType, body } = await metrics.text();
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body);
      return;
    }
    if (path.startsWith("/images/")) {
      const id = IMAGE_PATH.exec(path)?.[1];
      const image = id && (await liveService().hasImage(id)) ? await images.read(id) : null;
      if (image && (await sendImage(res, image, { "cache-control": "public, max-age=31536000, immutable" }))) {
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
    createContext,
    keepAlive: { enabled: true, pingMs: 20_000, pongWaitMs: 5_000 },
    maxBatchSize: MAX_BATCH_CALLS,
  });
  server.on("upgrade", (req, socket, head) => {
    // Node hands over an upgrade's socket without an error listener, and ws adds its own only in handleUpgrade: a
    // client that resets the connection before that (e.g. after its 401) would otherwise crash the process.
    socket.on("error", (error) => {
      logger.debug({ err: error }, "upgrade socket failed");
      socket.destroy();
    });
    const path = new URL(req.url ?? "/", "http://anvil").pathname;
    if (path !== "/trpc" && path !== "/trpc/") return socket.destroy();
    if (!isAuthorized(req, config.apiToken)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (cluster && !service) {
      void cluster.leader().then((leader) => {
        if (!leader || req.headers["x-anvil-forwarded"]) return socket.destroy();
        forwardUpgrade(req, socket, head, new URL(leader.url));
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  });

  let closing: Promise<void> | null = null;
  const close = ({ graceMs = 0 }: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      // Requests are still answered during the grace: a submission is stored `queued` (it runs at the next start,
      // or on another server of a cluster), and subscribers see the running generations end.
      if (cluster) await cluster.stop(async () => void (await service?.stop(graceMs)));
      else await service?.stop(graceMs);
      server.close();
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
    events,
    simulator,
    inspector,
    metrics,
    close,
  };
}

import { isUtf8 } from "node:buffer";
import { extname } from "node:path";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  appRouter,
  MAX_BODY_BYTES,
  MAX_BULK_BODY_BYTES,
  openApiDocument,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_REFUSED_HEADER,
} from "@anvil/api";
import type { Caller } from "@anvil/api";
import { isDatabaseUnreachable } from "@anvil/persistence";
import type { AnyTRPCRouter } from "@trpc/server";
import type { Logger } from "pino";
import type { AuthGate } from "./auth-gate";
import { gzipJsonAnswers } from "./gzip-json";
import { bodyTooLarge, DATABASE_AWAY, readBody, trpcErrorReply } from "./http-body";
import { serveImage } from "./image-route";
import type { ImageRouteOptions } from "./image-route";
import type { AnvilMetrics } from "./metrics";
import { isBulkSubmission, oversizedReply, proceduresOf } from "./request-limits";
import { unreadableHost, urlOf } from "./request-target";
import type { StreamsPerUser } from "./streams-per-user";
import type { OpenCredentials } from "./open-credentials";
import { answerReadiness } from "./readiness";
import type { Readiness } from "./readiness";
import { serveWebApp } from "./static-files";
import { answerCors } from "./cors";

/** /openapi.json: built once from the router's schemas; the same for every request. */
const OPENAPI = JSON.stringify(openApiDocument(appRouter, { version: "0.1.0" }));

const isRead = (req: IncomingMessage): boolean => req.method === "GET" || req.method === "HEAD";

/** The web app's own pages (`ROUTES` in apps/web/src/app.tsx): the extensionless paths a program is sent the app for. */
const APP_PAGES: ReadonlySet<string> = new Set(["/", "/inspect"]);

/**
 * Where a program that asked for a path Anvil does not serve should have gone, or null: for the app's pages and
 * files, and for a browser's request for a page (the app says "not found" itself). A load balancer that probed
 * `/health` was sent the web app with a 200, whether or not the server could take requests, and a service that
 * called `/jobs.submit` without `/trpc` got a page where it expected JSON.
 */
const unknownPathRefusal = (req: IncomingMessage, path: string): string | null => {
  if (APP_PAGES.has(path)) return null;
  if (isRead(req) && (req.headers.accept ?? "").includes("text/html")) return null;
  if (/^\/(health|ready|readiness|readyz|live|liveness|livez|status|ping)\/?$/i.test(path)) {
    return `No such path ${path}: the readiness check is GET /healthz (and the API's health query GET /trpc/health)`;
  }
  // Flat at run time ("jobs.submit"), nested in its type.
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } } | undefined>;
  if (Object.hasOwn(procedures, path.slice(1))) {
    // The method the procedure takes, not the one this request came with: a GET of /trpc/jobs.submit is a 405.
    const method = procedures[path.slice(1)]?._def.type === "mutation" ? "POST" : "GET";
    return `No such path ${path}: the API's procedures are under /trpc, e.g. ${method} /trpc${path}`;
  }
  // The app's files (`/favicon.png`, `/assets/…`) are the web app's to find, or to answer 404; a procedure's name
  // (`/anvil/trpc/jobs.get`: a client's base URL with a path of its own) looks like a file's, but is no file.
  if (extname(path) !== "" && !path.includes("/trpc/")) return null;
  return (
    `No such path ${path}: the API is under /trpc/<procedure> (see /openapi.json), a job's image under ` +
    "/images/<jobId>.png, the readiness check at /healthz, the web app at /"
  );
};

/**
 * Why a call's body cannot be read as JSON, or null. tRPC would take an octet stream or a form as a procedure's
 * input (and refuse it field by field, naming a stream's methods), would read a compressed body as JSON text, and
 * refuses any other type with a message cut short.
 */
const unreadableBody = (req: IncomingMessage): string | null => {
  if (isRead(req)) return null;
  const encoding = req.headers["content-encoding"]?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    return `Anvil reads a request's body as sent: Content-Encoding "${encoding}" is not supported (send the JSON uncompressed)`;
  }
  const type = req.headers["content-type"]?.toLowerCase() ?? "";
  // tRPC's own refusal of another type cuts its message short; a missing type is tRPC's to answer (see takeEmptyAsJson).
  if (type !== "" && !/^application\/json\s*(;|$)/.test(type)) {
    return `Unsupported content-type "${type}": Anvil's procedures take JSON (content-type: application/json)`;
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/.exec(type)?.[1];
  if (charset && !["utf-8", "utf8"].includes(charset)) {
    return `Unsupported charset "${charset}": Anvil reads JSON as UTF-8 (content-type: application/json; charset=utf-8)`;
  }
  return null;
};

/**
 * Reads a call's body whole and hands it to tRPC as text (`req.body`), or answers why it cannot: larger than the
 * request may carry (413), or not UTF-8 (400). tRPC would decode bytes that are not UTF-8 as U+FFFD and store a
 * prompt other than the one sent.
 */
const takeBodyAsText = async (req: IncomingMessage, res: ServerResponse, bulk: boolean): Promise<boolean> => {
  const limit = bulk ? MAX_BULK_BODY_BYTES : MAX_BODY_BYTES;
  const body = await readBody(req, limit);
  if (body === null) {
    if (!res.destroyed) bodyTooLarge(res, limit);
    return false;
  }
  if (!isUtf8(body)) {
    trpcErrorReply(res, "BAD_REQUEST", "The request's body is not valid UTF-8: Anvil reads JSON as UTF-8 text");
    return false;
  }
  (req as IncomingMessage & { body?: string }).body = body.toString("utf8");
  return true;
};

/**
 * A POST with no body and no content-type (`curl -X POST /trpc/queue.pause`, or a client generated from
 * /openapi.json for a mutation without input) is a call without input: tRPC would refuse it for its missing type.
 */
const takeEmptyAsJson = (req: IncomingMessage): void => {
  const { headers } = req;
  const empty = (headers["content-length"] ?? "0") === "0" && headers["transfer-encoding"] === undefined;
  if (req.method === "POST" && headers["content-type"] === undefined && empty)
    headers["content-type"] = "application/json";
};

/**
 * Whether `req` is a call any server of a cluster answers itself, from the database (`cluster.servers`, whose `self`
 * is the server asked): a follower does not forward it. In a batch (or over a WebSocket) it goes to the leader.
 */
export const answeredByAnyServer = (req: IncomingMessage): boolean => urlOf(req)?.pathname === "/trpc/cluster.servers";

/** Where each HTTP path goes. */
export interface RequestRouterOptions {
  gate: AuthGate;
  /** tRPC's HTTP handler, for `/trpc/<procedure>`. */
  trpc: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** The same with the larger body limit of a `jobs.submitMany` sent alone. */
  trpcBulk: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;
  /** Server-Sent Events streams served here, ended when this server's term as leader ends. */
  streams: Set<ServerResponse>;
  /** The streams each user holds open here, SSE and WebSocket together (bounded per user). */
  streamsPerUser: StreamsPerUser;
  /** The credentials (web sessions, users' tokens) the streams served here were opened with. */
  credentials: OpenCredentials;
  /** Whether another server leads the cluster: then API and image requests are forwarded to it. */
  follows: () => boolean;
  /** Forwards a request to the leader and answers with its reply (see leader-proxy.ts). */
  forward: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  metrics: Pick<AnvilMetrics, "text">;
  images: ImageRouteOptions["images"];
  imageOwner: ImageRouteOptions["imageOwner"];
  /** The built web app's folder. */
  webDir: string;
  /**
   * Origins besides Anvil's own whose pages may act as the browser's user (`ALLOWED_ORIGINS`): they may show the web
   * app in a frame, and call the API from the browser (CORS).
   */
  allowedOrigins?: readonly string[];
  /** Whether this server can take requests now, for `/healthz` (see readiness.ts). */
  readiness: () => Promise<Readiness>;
  /** For tests: awaited once an API request is admitted, before its body is read (see AnvilConfig). */
  afterAdmission?: (caller: Caller) => Promise<void>;
}

type ProcedureKind = "query" | "mutation" | "subscription";

const PROCEDURES = (appRouter as AnyTRPCRouter)._def.procedures as Record<
  string,
  { _def: { type: ProcedureKind } } | undefined
>;

/** How each kind of procedure is called: a query's HEAD answers as its GET without the body. */
const METHODS: Record<ProcedureKind, readonly string[]> = {
  query: ["GET", "HEAD"],
  mutation: ["POST"],
  subscription: ["GET"],
};

/**
 * The one kind of procedure a `/trpc/<a>,<b>` path calls; null when it names an unknown one or mixes kinds (tRPC's
 * to refuse).
 */
const kindCalled = (path: string): ProcedureKind | null => {
  const kinds = kindsCalled(path);
  const [kind] = kinds;
  return kinds.size === 1 && kind !== undefined ? kind : null;
};

/** The kinds of procedure a `/trpc/<a>,<b>` path names (undefined for a name that is no procedure). */
const kindsCalled = (path: string): Set<ProcedureKind | undefined> =>
  new Set(
    (proceduresOf(path) ?? []).map((name) =>
      Object.hasOwn(PROCEDURES, name) ? PROCEDURES[name]?._def.type : undefined,
    ),
  );

/**
 * Whether a `/trpc/<a>,<b>` path calls a subscription: tRPC answers its GET with an event stream whatever the request's
 * `Accept` says, so a stream is counted (and bound) by what it calls, not by how it was asked for.
 */
const callsSubscription = (path: string): boolean => kindsCalled(path).has("subscription");

/** The server's own paths outside /trpc and /images, which are only read. */
const READ_ONLY_PATHS: ReadonlySet<string> = new Set(["/healthz", "/metrics", "/openapi.json"]);

/**
 * A procedure is called with GET (queries, subscriptions) or POST (mutations), and HEAD for a query; an image is
 * read. A subscription answers nothing but its stream: a HEAD of it would hold a stream open that sends nothing.
 */
const methodRefused = (req: IncomingMessage, path: string): { message: string; allow: string } | null => {
  const method = req.method ?? "";
  if (path.startsWith("/trpc/")) {
    const kind = kindCalled(path);
    if (kind === null) {
      if (["GET", "HEAD", "POST"].includes(method)) return null;
      return {
        message: `${method} is not a way to call a procedure: use GET for a query, POST for a mutation`,
        allow: "GET, POST",
      };
    }
    const allowed = METHODS[kind];
    if (allowed.includes(method)) return null;
    return {
      message: `${method} is not a way to call a ${kind}: use ${allowed.join(" or ")}`,
      allow: allowed.join(", "),
    };
  }
  if (path.startsWith("/images/") && !isRead(req)) {
    return { message: `${method} is not a way to ask for an image: use GET`, allow: "GET, HEAD" };
  }
  // Else a POST /healthz was "No such path /healthz: … the readiness check at /healthz".
  if (READ_ONLY_PATHS.has(path) && !isRead(req)) {
    return { message: `${method} is not a way to read ${path}: use GET`, allow: "GET, HEAD" };
  }
  return null;
};

/**
 * The HTTP server's paths: `/auth/*` and admission (the gate), `/healthz`, `/trpc`, `/openapi.json`, `/metrics`,
 * `/images`, and the web app for everything else.
 */
export const routeRequest =
  (options: RequestRouterOptions) =>
  async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const { gate, streams } = options;
    const url = urlOf(req);
    if (!url) return void trpcErrorReply(res, "BAD_REQUEST", "The request's target is not a valid URL path");
    const badHost = unreadableHost(req);
    if (badHost) return void trpcErrorReply(res, "BAD_REQUEST", badHost);
    const path = url.pathname;
    // A webhook delivery of an Anvil server (this cluster's or another's): a callbackUrl must not point at Anvil,
    // and another server of the cluster cannot tell at submit which addresses reach this one. Refused before it
    // could act as anyone; the delivering server takes this answer as final (see WebhookDispatcher).
    if (req.headers[WEBHOOK_EVENT_HEADER] !== undefined) {
      res.setHeader(WEBHOOK_REFUSED_HEADER, "1");
      return void trpcErrorReply(
        res,
        "FORBIDDEN",
        "This is an Anvil server: a webhook's callbackUrl must not point at one",
      );
    }
    const api = path === "/trpc" || path.startsWith("/trpc/") || path.startsWith("/images/");
    if ((api || path.startsWith("/auth/")) && answerCors(req, res, options.allowedOrigins ?? [])) return;
    if (await gate.route(req, res, path)) return;
    // Open, and this server's own answer (a follower does not forward it): what a load balancer or an orchestrator
    // asks before it sends requests here. It names no user, job or backend.
    if (path === "/healthz" && isRead(req)) return answerReadiness(res, await options.readiness());
    // /metrics is open like the other paths outside /trpc, unless sign-in is required: then it needs it too.
    if (api || (path === "/metrics" && gate.required)) {
      const { caller } = await gate.admit(req, res);
      if (!caller) return;
      await options.afterAdmission?.(caller);
    }
    const refused = methodRefused(req, path);
    if (refused) {
      trpcErrorReply(res, "METHOD_NOT_SUPPORTED", refused.message, { allow: refused.allow });
      return;
    }
    // tRPC reads a POST's input from its body alone: `?input=` beside it was dropped unsaid, and a call without input
    // does what it does with none (jobs.cancelWaiting cancelled every waiting job, not the conversation's).
    if (req.method === "POST" && path.startsWith("/trpc/") && url.searchParams.has("input")) {
      return void trpcErrorReply(
        res,
        "BAD_REQUEST",
        "A POST carries its input as JSON in its body, not in ?input= (that is for GET, the queries'): nothing was done",
      );
    }
    if (options.follows() && (path.startsWith("/trpc") || path.startsWith("/images/")) && !answeredByAnyServer(req)) {
      return options.forward(req, res);
    }
    if (path.startsWith("/trpc/") && path !== "/trpc/") {
      // HEAD is GET without the body: tRPC knows no HEAD (it answered 204); Node leaves out the body of a HEAD's answer.
      if (req.method === "HEAD") req.method = "GET";
      const unreadable = unreadableBody(req);
      if (unreadable) {
        trpcErrorReply(res, "UNSUPPORTED_MEDIA_TYPE", unreadable);
        return;
      }
      const oversized = oversizedReply(url);
      if (oversized) {
        trpcErrorReply(res, "PAYLOAD_TOO_LARGE", oversized);
        return;
      }
      if (!isRead(req) && !(await takeBodyAsText(req, res, isBulkSubmission(url)))) return;
      if (callsSubscription(path) || req.headers.accept?.includes("text/event-stream")) {
        const caller = gate.callerOf(req);
        const release = options.streamsPerUser.take(caller);
        if (typeof release !== "function") return void trpcErrorReply(res, "TOO_MANY_REQUESTS", release.refusal);
        res.once("close", release);
        streams.add(res);
        res.once("close", () => streams.delete(res));
        // A stream opened with a web session or a user's token ends with it (see open-credentials.ts).
        if (caller) res.once("close", options.credentials.opened(caller));
      }
      takeEmptyAsJson(req);
      gzipJsonAnswers(req, res);
      return isBulkSubmission(url) ? options.trpcBulk(req, res) : options.trpc(req, res);
    }
    if (path === "/trpc" || path === "/trpc/") {
      return void trpcErrorReply(res, "NOT_FOUND", "Name a procedure: /trpc/<procedure>");
    }
    if (path === "/openapi.json" && isRead(req)) {
      gzipJsonAnswers(req, res);
      res.setHeader("content-type", "application/json");
      res.setHeader("access-control-allow-origin", "*");
      res.end(OPENAPI);
      return;
    }
    if (path === "/metrics" && isRead(req)) {
      const { contentType, body } = await options.metrics.text();
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body);
      return;
    }
    if (path.startsWith("/images/")) {
      return serveImage(req, res, path, {
        images: options.images,
        imageOwner: options.imageOwner,
        callerOf: (request) => gate.callerOf(request),
        signInRequired: gate.required,
      });
    }
    const unknown = unknownPathRefusal(req, path);
    if (unknown) return void trpcErrorReply(res, "NOT_FOUND", unknown);
    if (!isRead(req)) {
      return void trpcErrorReply(res, "METHOD_NOT_SUPPORTED", `${req.method} is not a way to read a page: use GET`, {
        allow: "GET, HEAD",
      });
    }
    return serveWebApp(req, res, options.webDir, path, options.allowedOrigins);
  };

/** The answer to a request that found the database away (e.g. while it told who the caller is): try again. */
export const databaseAway = (res: ServerResponse): void => {
  trpcErrorReply(res, "SERVICE_UNAVAILABLE", DATABASE_AWAY, { "retry-after": "1" });
};

/**
 * Runs `route` for each request; a request that fails is logged and answered 500 (or cut, once answering), or 503
 * when it failed because the database could not be reached.
 */
export const answerSafely =
  (route: (req: IncomingMessage, res: ServerResponse) => Promise<void>, logger: Logger) =>
  (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      const away = isDatabaseUnreachable(error);
      if (away) logger.warn({ err: error, url: req.url }, "request failed: the database is not reachable");
      else logger.error({ err: error, url: req.url }, "request failed");
      if (res.headersSent) res.destroy();
      else if (away) databaseAway(res);
      else trpcErrorReply(res, "INTERNAL_SERVER_ERROR", "Internal error");
    });
  };

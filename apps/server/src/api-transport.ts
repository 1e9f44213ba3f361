import type { IncomingMessage, ServerResponse } from "node:http";
import {
  appRouter,
  ListBudget,
  MAX_BATCH_CALLS,
  MAX_BODY_BYTES,
  MAX_BULK_BODY_BYTES,
  settleWithin,
  SubscriptionSlots,
} from "@anvil/api";
import type { Context } from "@anvil/api";
import type { TRPCError } from "@trpc/server";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { applyWSSHandler } from "@trpc/server/adapters/ws";
import type { Logger } from "pino";
import { WebSocketServer } from "ws";
import type { AnvilMetrics } from "./metrics";
import { MAX_LISTED_JOBS_PER_REQUEST, MAX_SUBSCRIPTIONS_PER_SOCKET } from "./request-limits";

type HttpHandler = ReturnType<typeof createHTTPHandler>;

/** The tRPC API over HTTP (queries, mutations, Server-Sent Events) and over WebSocket. */
export interface ApiTransport {
  /** Every call but a bulk submission. */
  trpc: HttpHandler;
  /** `jobs.submitMany` sent alone: its 1,000 jobs may each carry prompts of 4,000 characters. */
  trpcBulk: HttpHandler;
  /** The WebSocket server, to which the HTTP server hands the upgrades it admitted. */
  wss: WebSocketServer;
  /** tRPC's handler over `wss`. */
  webSockets: ReturnType<typeof applyWSSHandler>;
  /**
   * Ends the open streams (the given Server-Sent Events and every WebSocket) cleanly once what was published has reached
   * them: a job that ended during a SIGTERM's grace is seen to end by everyone watching it. Cut after `withinMs` at most.
   */
  endStreams(streams: ReadonlySet<ServerResponse>, withinMs: number): Promise<void>;
}

/** Builds the API's handlers, calls made as `createContext` says (who the caller is, the service that answers). */
export function apiTransport(options: {
  createContext: (request: { req: IncomingMessage }) => Context;
  logger: Logger;
  metrics: AnvilMetrics;
  /** How long a WebSocket's client may send nothing before it is pinged; cut 5 s after an unanswered ping. */
  webSocketPingMs: number;
}): ApiTransport {
  const { createContext, logger, metrics } = options;
  /** Logs what a procedure failed with, told apart by `transport` (subscriptions over HTTP are SSE streams). */
  const logProcedureError =
    (transport: "sse" | "websocket") =>
    ({ error, path }: { error: TRPCError; path: string | undefined }): void => {
      // A WebSocket message that breaks the protocol (too large, not UTF-8): the socket closes, the client's fault.
      const { cause } = error;
      const code = cause instanceof Error ? (cause as { code?: unknown }).code : undefined;
      if (typeof code === "string" && code.startsWith("WS_ERR_")) {
        logger.warn({ code }, `a WebSocket was closed: ${(cause as Error).message}`);
        return;
      }
      // A stream whose reader fell behind (job-stream.ts): ended with TIMEOUT, and its client resumes.
      if (error.code === "TIMEOUT" && (cause as { _tag?: unknown } | undefined)?._tag === "FellBehind") {
        logger.warn({ path, transport }, `a subscription was ended: ${error.message}`);
        metrics.fellBehind(transport);
        return;
      }
      if (error.code === "INTERNAL_SERVER_ERROR") logger.error({ err: error, path }, "procedure failed");
    };
  const trpcHandler = (maxBodySize: number) =>
    createHTTPHandler({
      router: appRouter,
      createContext,
      basePath: "/trpc/",
      maxBodySize,
      // One request may carry at most this many calls: a batch of a thousand submits or lists is one client
      // taking everyone's turn. Larger batches are a 400 and run nothing.
      maxBatchSize: MAX_BATCH_CALLS,
      onError: logProcedureError("sse"),
      responseMeta: ({ errors, eagerGeneration }) => ({
        headers: {
          // An answer of JSON says so: tRPC leaves the type out of a refusal made before any procedure ran (a batch
          // too long, or of queries and mutations), which then went as text/plain. (A stream sets its own.)
          ...(eagerGeneration ? {} : { "content-type": "application/json" }),
          // A call refused for now (the database away, no backend answering, a cluster between leaders) says when to
          // try again, as the gate's and the leader proxy's 503s do.
          ...(errors.some((error) => error.code === "SERVICE_UNAVAILABLE") ? { "retry-after": "1" } : {}),
        },
      }),
    });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const webSockets = applyWSSHandler({
    wss,
    router: appRouter,
    // Called once per connection: its subscriptions share one bound.
    createContext: (request) => ({
      ...createContext(request),
      subscriptions: new SubscriptionSlots(MAX_SUBSCRIPTIONS_PER_SOCKET),
      listBudget: new ListBudget(MAX_LISTED_JOBS_PER_REQUEST),
    }),
    keepAlive: { enabled: true, pingMs: options.webSocketPingMs, pongWaitMs: 5_000 },
    maxBatchSize: MAX_BATCH_CALLS,
    onError: logProcedureError("websocket"),
  });
  return {
    trpc: trpcHandler(MAX_BODY_BYTES),
    trpcBulk: trpcHandler(MAX_BULK_BODY_BYTES),
    wss,
    webSockets,
    endStreams: async (streams, withinMs) => {
      // A published change reaches a stream's generator at once, and its socket a few turns of the event loop later.
      await new Promise((resolve) => setTimeout(resolve, 25));
      webSockets.broadcastReconnectNotification();
      const ended = (emitter: { once(event: "close", listener: () => void): unknown }) =>
        new Promise<void>((resolve) => emitter.once("close", resolve));
      const closed = [...[...streams].map(ended), ...[...wss.clients].map(ended)];
      for (const stream of streams) stream.end();
      for (const client of wss.clients) client.close(1001, "the server is stopping");
      await settleWithin(Promise.all(closed), withinMs, undefined);
    },
  };
}

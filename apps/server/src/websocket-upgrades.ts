import { ServerResponse } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { endsAccess } from "@anvil/api";
import type { Caller, EventHub, HubMessage } from "@anvil/api";
import { isDatabaseUnreachable } from "@anvil/persistence";
import type { Logger } from "pino";
import type { WebSocket, WebSocketServer } from "ws";
import type { AuthGate } from "./auth-gate";
import type { OpenCredentials } from "./open-credentials";
import type { StreamsPerUser } from "./streams-per-user";
import { forwardUpgrade } from "./leader-proxy";
import type { LeaderLookup } from "./leader-proxy";
import { DATABASE_AWAY, endSocketWith, trpcErrorReply } from "./http-body";
import { pathOf, unreadableHost } from "./request-target";
import { batchFrames } from "./ws-batching";
import { unsentBound } from "./ws-unsent-bound";

/** Where a WebSocket upgrade may go. */
export interface UpgradeRoutes {
  gate: AuthGate;
  wss: WebSocketServer;
  logger: Logger;
  /** While another server leads the cluster, where to forward to (see forwardUpgrade); null while this one leads. */
  leader: () => Omit<LeaderLookup, "maxBodyBytes"> | null;
  /** The server's ordinary request handler, for a request that asks for another protocol than a WebSocket. */
  plain: (req: IncomingMessage, res: ServerResponse) => void;
  /** The most one WebSocket may hold unsent before it is closed (default MAX_UNSENT_BYTES; tests make it small). */
  maxUnsentBytes?: number | undefined;
  /** Told of each WebSocket closed because its client read too slowly. */
  onFellBehind?: (() => void) | undefined;
  /** The streams each user holds open here, SSE and WebSocket together (bounded per user). */
  streamsPerUser: StreamsPerUser;
}

/**
 * Answers an upgrade request as the ordinary request it also is: Node hands every request with an `Upgrade` header
 * (`h2c` from `curl --http2`, say) to the upgrade listener once there is one, and a client may not insist on a
 * protocol change. The connection closes after the answer. One with a body is refused, saying why.
 */
const answerPlainly = (
  req: IncomingMessage,
  socket: Duplex,
  plain: (req: IncomingMessage, res: ServerResponse) => void,
): void => {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as Socket);
  res.once("finish", () => {
    res.detachSocket(socket as Socket);
    socket.end();
  });
  // Node leaves an upgrade request's body on the socket, unparsed: one that has a body cannot be read as sent.
  const length = Number(req.headers["content-length"] ?? 0);
  if (req.headers["transfer-encoding"] || length > 0) {
    const upgrade = req.headers.upgrade ?? "";
    trpcErrorReply(
      res,
      "BAD_REQUEST",
      `Anvil speaks HTTP/1.1 only: send this request without "Upgrade: ${upgrade}" (curl: --http1.1)`,
    );
    return;
  }
  plain(req, res);
};

/**
 * WebSocket upgrades of `/trpc`: admitted by the gate, then taken by the WebSocket server, or on a follower
 * forwarded to the leader. Any other upgrade (another path or protocol, a target that is no URL) is answered as
 * an ordinary request.
 */
export const routeUpgrades = (
  server: Server,
  { gate, wss, logger, leader, plain, maxUnsentBytes, onFellBehind, streamsPerUser }: UpgradeRoutes,
): void => {
  const admitted = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const lookup = leader();
    if (lookup) {
      void forwardUpgrade(req, socket, head, lookup);
      return;
    }
    const caller = gate.callerOf(req);
    const release = streamsPerUser.take(caller);
    if (typeof release !== "function") {
      logger.debug({ user: caller?.name }, "refused a WebSocket: the user holds the most streams a user may");
      endSocketWith(socket, 429, "TOO_MANY_REQUESTS", release.refusal);
      return;
    }
    // Given back when the connection closes, however it ends (a handshake that fails never makes a WebSocket).
    socket.once("close", release);
    wss.handleUpgrade(req, socket, head, (ws) => {
      // A client that stops reading would otherwise have everything sent to it kept in memory, without end.
      const user = caller?.name;
      const bound = unsentBound(ws, socket, {
        maxBytes: maxUnsentBytes,
        logger,
        fields: { user },
        onClosed: onFellBehind,
      });
      batchFrames(ws, socket, bound);
      wss.emit("connection", ws, req);
    });
  };
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node hands over an upgrade's socket without an error listener, and ws adds its own only in handleUpgrade: a
    // client that resets the connection before that (e.g. after its 401) would otherwise crash the process.
    socket.on("error", (error) => {
      logger.debug({ err: error }, "upgrade socket failed");
      socket.destroy();
    });
    const path = pathOf(req);
    const websocket = req.headers.upgrade?.toLowerCase() === "websocket";
    // A Host that is no host is the ordinary answer's 400 too.
    if (!websocket || (path !== "/trpc" && path !== "/trpc/") || unreadableHost(req) !== null) {
      return answerPlainly(req, socket, plain);
    }
    void gate.admitUpgrade(req, socket).then(
      ({ caller }) => {
        if (caller) admitted(req, socket, head);
      },
      (error: unknown) => {
        const away = isDatabaseUnreachable(error);
        if (away)
          logger.warn({ err: error }, "could not tell who a WebSocket upgrade is: the database is not reachable");
        else logger.error({ err: error }, "could not tell who a WebSocket upgrade is");
        if (away) endSocketWith(socket, 503, "SERVICE_UNAVAILABLE", DATABASE_AWAY, { "retry-after": "1" });
        else endSocketWith(socket, 500, "INTERNAL_SERVER_ERROR", "Internal error");
      },
    );
  });
};

/** RFC 6455's 1008, policy violation: the access a WebSocket was opened with ended (the reason says how). */
export const ACCESS_ENDED_CODE = 1008;
/** How long a WebSocket whose access ended has to complete the closing handshake before it is cut. */
export const ACCESS_ENDED_CUT_MS = 1_000;

/** Why `message` ends a WebSocket's access: its close frame's reason (at most 123 bytes). */
const accessEndedReason = (message: HubMessage): string => {
  if (message.kind === "revoked") return message.removed ? "the user was removed" : "the user's rights changed";
  return message.kind === "credentialsEnded" && message.admin
    ? "the user's rights changed"
    : "the session or token it was opened with ended";
};

/**
 * Ends a WebSocket whose access ended, at once: nothing more its client sends is taken (tRPC sends nothing once it
 * is closing), and it is closed with {@link ACCESS_ENDED_CODE} and `reason`, so the client is told why; one whose
 * client does not complete the close within {@link ACCESS_ENDED_CUT_MS} (it reads nothing) is cut.
 */
const endAccess = (client: WebSocket, reason: string): void => {
  if (client.readyState === client.CLOSED) return;
  // tRPC's handler (and the keep-alive) listen for messages: a call that comes now is not run.
  client.removeAllListeners("message");
  if (client.readyState !== client.OPEN) return void client.terminate();
  client.close(ACCESS_ENDED_CODE, reason);
  const cut = setTimeout(() => client.terminate(), ACCESS_ENDED_CUT_MS);
  client.once("close", () => clearTimeout(cut));
};

/**
 * A removed user's WebSocket connections close at once, and so do those opened with a web session or a token that
 * ended: calls over them were admitted as that user, with that credential (see `endsAccess`). Returns what stops
 * watching.
 */
export const closeRevokedSockets = (
  wss: WebSocketServer,
  gate: AuthGate,
  events: EventHub,
  credentials: OpenCredentials,
): (() => void) => {
  const callers = new WeakMap<object, Caller>();
  wss.on("connection", (ws, req: IncomingMessage) => {
    const caller = gate.callerOf(req);
    if (!caller) return;
    callers.set(ws, caller);
    ws.once("close", credentials.opened(caller));
  });
  return events.subscribe(
    (message) => {
      if (message.kind !== "revoked" && message.kind !== "credentialsEnded") return;
      for (const client of wss.clients) {
        const caller = callers.get(client);
        if (caller && endsAccess(message, caller)) endAccess(client, accessEndedReason(message));
      }
    },
    { internal: true },
  );
};

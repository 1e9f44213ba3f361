import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { EventHub } from "@anvil/api";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import type { AuthGate } from "./auth-gate";
import { forwardUpgrade } from "./leader-proxy";
import { batchFrames } from "./ws-batching";

/** Where a WebSocket upgrade may go. */
export interface UpgradeRoutes {
  gate: AuthGate;
  wss: WebSocketServer;
  logger: Logger;
  /** Another server's URL while it leads the cluster (this server then forwards); null while this one leads. */
  leaderUrl: () => Promise<string | null> | null;
}

/**
 * WebSocket upgrades of `/trpc`: admitted by the gate, then taken by the WebSocket server, or on a follower
 * forwarded to the leader. Any other path's upgrade is closed.
 */
export const routeUpgrades = (server: Server, { gate, wss, logger, leaderUrl }: UpgradeRoutes): void => {
  const admitted = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const leader = leaderUrl();
    if (leader) {
      void leader.then((url) => {
        if (!url || req.headers["x-anvil-forwarded"]) return socket.destroy();
        forwardUpgrade(req, socket, head, new URL(url));
      });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      batchFrames(ws, socket);
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
    const path = new URL(req.url ?? "/", "http://anvil").pathname;
    if (path !== "/trpc" && path !== "/trpc/") return socket.destroy();
    void gate.admitUpgrade(req, socket).then(
      ({ caller }) => {
        if (caller) admitted(req, socket, head);
      },
      (error: unknown) => {
        logger.error({ err: error }, "could not tell who a WebSocket upgrade is");
        socket.destroy();
      },
    );
  });
};

/**
 * A removed user's WebSocket connections close at once: calls over them were admitted as that user. Returns what
 * stops watching.
 */
export const closeRevokedSockets = (wss: WebSocketServer, gate: AuthGate, events: EventHub): (() => void) => {
  const callers = new WeakMap<object, string>();
  wss.on("connection", (ws, req: IncomingMessage) => {
    const caller = gate.callerOf(req);
    if (caller) callers.set(ws, caller.name);
  });
  return events.subscribe(
    (message) => {
      if (message.kind !== "revoked") return;
      for (const client of wss.clients) if (callers.get(client) === message.user) client.terminate();
    },
    { internal: true },
  );
};

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { settleWithin } from "@anvil/api";

/** Methods whose calls change nothing: a follower cut off from the leader by them sends them to the next one. */
const CHANGE_NOTHING = new Set(["GET", "HEAD", "OPTIONS"]);

/** The calls that change something which a server is answering (see {@link callsInFlight}). */
export interface CallsInFlight {
  /**
   * Stops taking connections, then waits until every connection taken less than `maxMs` ago without a request yet
   * has sent one or closed, until it is `maxMs` old at most: what the stop does next ends with every connection cut,
   * and a connection taken just before the listener closed may still carry a call (a follower forwards each call that
   * changes something on a connection of its own, sent once it connects). Cut off, its caller could not tell whether
   * the call took effect. One older than that is no such call (a browser's preconnection, say): it is not waited for.
   */
  stopTaking(maxMs: number): Promise<void>;
  /** Settles once none is left, or after `maxMs` at most. */
  settled(maxMs: number): Promise<void>;
}

/**
 * Counts the calls that change something (a `POST`) that `server` has taken and not yet answered, so that a stop lets
 * them finish before it closes every connection: cut off, their callers could not tell whether they took effect (a
 * follower that forwarded one answers 502, "look before calling again"), though the server could still answer them.
 */
export function callsInFlight(server: Server, now: () => number = () => performance.now()): CallsInFlight {
  const calls = drainingSet<ServerResponse>();
  /** The connections taken that have not sent a request yet. */
  const fresh = drainingSet<Socket>();
  /** When each connection was taken. */
  const takenAt = new WeakMap<Socket, number>();
  server.on("connection", (socket: Socket) => {
    fresh.add(socket);
    takenAt.set(socket, now());
    socket.once("close", () => fresh.delete(socket));
  });
  // A WebSocket's upgrade is its request.
  server.on("upgrade", (req: IncomingMessage) => fresh.delete(req.socket));
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    fresh.delete(req.socket);
    if (CHANGE_NOTHING.has(req.method ?? "GET")) return;
    calls.add(res);
    res.once("close", () => calls.delete(res));
  });
  return {
    stopTaking: async (maxMs) => {
      server.close();
      const at = now();
      let waitMs = 0;
      for (const socket of [...fresh.items()]) {
        const left = (takenAt.get(socket) ?? at) + maxMs - at;
        if (left > 0) waitMs = Math.max(waitMs, left);
        else fresh.delete(socket);
      }
      await fresh.emptied(waitMs);
    },
    settled: (maxMs) => calls.emptied(maxMs),
  };
}

/** A set, and a wait for it to be empty: settles at once when it is, else once its last item goes or `maxMs` passed. */
function drainingSet<T>(): {
  add(item: T): void;
  delete(item: T): void;
  items(): Iterable<T>;
  emptied(maxMs: number): Promise<void>;
} {
  const items = new Set<T>();
  const waiting = new Set<() => void>();
  return {
    add: (item) => void items.add(item),
    items: () => items.values(),
    delete: (item) => {
      if (!items.delete(item) || items.size > 0) return;
      for (const wake of waiting) wake();
      waiting.clear();
    },
    emptied: async (maxMs) => {
      if (items.size === 0) return;
      await settleWithin(new Promise<void>((resolve) => waiting.add(resolve)), maxMs, undefined);
    },
  };
}

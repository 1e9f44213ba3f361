import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { settleWithin } from "./settle-within";

/** Methods whose calls change nothing: a follower cut off from the leader by them sends them to the next one. */
const CHANGE_NOTHING = new Set(["GET", "HEAD", "OPTIONS"]);

/** The calls that change something which a server is answering (see {@link callsInFlight}). */
export interface CallsInFlight {
  /**
   * Stops taking connections, then waits until every connection taken without a request yet has sent one or closed,
   * `maxMs` at most: what the stop does next ends with every connection cut, and a connection taken just before the
   * listener closed may still carry a call (a follower forwards each call that changes something on a connection of
   * its own, sent once it connects). Cut off, its caller could not tell whether the call took effect.
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
export function callsInFlight(server: Server): CallsInFlight {
  let open = 0;
  const waiting = new Set<() => void>();
  /** The connections taken that have not sent a request yet, and what waits for there to be none. */
  const fresh = new Set<Socket>();
  const noneFresh = new Set<() => void>();
  const notFresh = (socket: Socket) => {
    if (!fresh.delete(socket) || fresh.size > 0) return;
    for (const wake of noneFresh) wake();
    noneFresh.clear();
  };
  server.on("connection", (socket: Socket) => {
    fresh.add(socket);
    socket.once("close", () => notFresh(socket));
  });
  // A WebSocket's upgrade is its request.
  server.on("upgrade", (req: IncomingMessage) => notFresh(req.socket));
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    notFresh(req.socket);
    if (CHANGE_NOTHING.has(req.method ?? "GET")) return;
    open += 1;
    res.once("close", () => {
      open -= 1;
      if (open > 0) return;
      for (const wake of waiting) wake();
      waiting.clear();
    });
  });
  return {
    stopTaking: async (maxMs) => {
      server.close();
      if (fresh.size > 0) {
        await settleWithin(new Promise<void>((resolve) => noneFresh.add(resolve)), maxMs, undefined);
      }
    },
    settled: async (maxMs) => {
      if (open === 0) return;
      await settleWithin(new Promise<void>((resolve) => waiting.add(resolve)), maxMs, undefined);
    },
  };
}

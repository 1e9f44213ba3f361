import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { settleWithin } from "./settle-within";

/** Methods whose calls change nothing: a follower cut off from the leader by them sends them to the next one. */
const CHANGE_NOTHING = new Set(["GET", "HEAD", "OPTIONS"]);

/** The calls that change something which a server is answering (see {@link callsInFlight}). */
export interface CallsInFlight {
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
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
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
    settled: async (maxMs) => {
      if (open === 0) return;
      await settleWithin(new Promise<void>((resolve) => waiting.add(resolve)), maxMs, undefined);
    },
  };
}

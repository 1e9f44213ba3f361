import type { Duplex } from "node:stream";
import type { Logger } from "pino";
import type { WebSocket } from "ws";

/**
 * The most one WebSocket may hold unsent after a turn of the event loop. tRPC's adapter sends each event as it comes,
 * whether or not the client reads, and ws keeps what the socket cannot take in memory. 4 MiB is several replay pages
 * (500 snapshots of about 1 KB each) on top of what the kernel already holds, so a healthy client resuming a few
 * streams at once is not cut; and a thousand stuck clients hold at most 4 GiB, not whatever came for them.
 */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;
/**
 * How long a socket closed for reading too slowly has to take its backlog and the close frame behind it: one that has
 * not by then reads nothing (or too little to keep up) and is cut, as the close frame cannot reach it.
 */
export const CLOSE_GRACE_MS = 5_000;
/** 1013 "Try Again Later": the client's wsLink reconnects and resumes each stream from its last event id. */
export const FELL_BEHIND_CODE = 1013;
const FELL_BEHIND_REASON = "reading too slowly: reconnect and resume from the last event id";

/** What one WebSocket may leave unsent, and who is told when it does. */
export interface UnsentBound {
  maxBytes?: number | undefined;
  graceMs?: number | undefined;
  logger: Logger;
  /** Fields for the warning (who the socket belongs to). */
  fields?: Record<string, unknown>;
  /** Told when the socket is closed for it (metrics). */
  onClosed?: (() => void) | undefined;
}

/**
 * Returns the check to run once a turn's frames have been handed to `socket` (see batchFrames): a socket that still
 * holds more than `maxBytes` then is closed with 1013, and cut if its close frame has not gone out within `graceMs`.
 * Measured after the turn, not after each frame, so that one turn's burst to a client that reads is not counted.
 */
export function unsentBound(
  ws: WebSocket,
  socket: Duplex,
  { maxBytes = MAX_UNSENT_BYTES, graceMs = CLOSE_GRACE_MS, logger, fields = {}, onClosed }: UnsentBound,
): () => void {
  let closing = false;
  return () => {
    const unsent = ws.bufferedAmount;
    if (closing || unsent <= maxBytes || ws.readyState !== ws.OPEN) return;
    closing = true;
    logger.warn(
      { ...fields, unsentBytes: unsent, maxUnsentBytes: maxBytes },
      `a WebSocket was closed: its client left more than ${maxBytes} bytes unread (it reconnects and resumes)`,
    );
    // tRPC sends nothing more once the socket is closing, so what it holds only shrinks from here.
    ws.close(FELL_BEHIND_CODE, FELL_BEHIND_REASON);
    onClosed?.();
    // The close frame waits behind the backlog: a client that reads it all gets it; one that does not is cut.
    const cut = setTimeout(() => {
      if (socket.writableLength > 0) ws.terminate();
    }, graceMs);
    ws.once("close", () => clearTimeout(cut));
  };
}

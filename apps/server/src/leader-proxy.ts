import { randomUUID } from "node:crypto";
import { request } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect } from "node:net";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { bodyTooLarge, readBody, trpcErrorReply } from "./http-body";
import { CALL_ID_HEADER, CALL_KEYS_HEADER, keyedByCallId, mayResend } from "./resend-safe";

// Hop-by-hop headers (RFC 9110 7.6.1) are the connection's own and are not forwarded.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** What a leader that never echoed a call id keys by one. */
const NONE_KEYED: ReadonlySet<string> = new Set();

/** `headers` less the hop-by-hop ones. */
const endToEnd = (headers: IncomingMessage["headers"]): Record<string, string | string[]> => {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  }
  return kept;
};

const forwardedHeaders = (req: IncomingMessage, callId: string): Record<string, string | string[]> => ({
  ...endToEnd(req.headers),
  "x-forwarded-for": req.socket.remoteAddress ?? "",
  "x-anvil-forwarded": "1",
  // This follower's own, whatever the caller sent: the same on each leader the call goes to (see resend-safe.ts).
  [CALL_ID_HEADER]: callId,
});

/**
 * Marks {@link noLeader}'s reply: the server did nothing with the request, so a follower that forwarded it there (to a
 * leader it knew, which has stepped down since) may send it to the next leader.
 */
const NOT_LEADER_HEADER = "x-anvil-not-leader";

/**
 * How the reason a call was not taken ends when the server it went to answered that it leads no more: a hand-over or
 * an election is under way, and that server is there (so its CLUSTER_URL is right).
 */
export const NO_LONGER_LEADS = "no longer leads";

/** A reply while no leader can be reached, in tRPC's error shape so that its clients read the code and retry. */
export const noLeader = (res: ServerResponse, why: string): void => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = `The cluster's leader cannot take this call right now (${why}); try again shortly`;
  trpcErrorReply(res, "SERVICE_UNAVAILABLE", message, { "retry-after": "1", [NOT_LEADER_HEADER]: "1" });
};

/** The leader did not take the connection: nothing reached it, so the request may go to the next leader. */
export class LeaderUnreachable extends Error {}

/**
 * The leader took a call that changes something and went away before it answered: it may have done it (a submission
 * committed just before a `kill -9`), so sending it to the next leader could do it twice.
 */
export class LeaderLost extends Error {
  /** Whether the call may go to the next leader all the same: done twice, it does what it did once (resend-safe.ts). */
  constructor(
    message: string,
    readonly resendable = false,
  ) {
    super(message);
  }
}

/** Methods whose calls change nothing (tRPC queries and subscriptions, images): sent again safely. */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Forwards one HTTP request (a query, a mutation, a Server-Sent Events stream, an image) to the leader and streams
 * its answer back as it comes: an SSE stream stays open for as long as the leader keeps it open. Rejects with
 * {@link LeaderUnreachable} when the leader cannot be reached before it answered anything, or answers that it leads
 * no more.
 */
export function forwardHttp(
  req: IncomingMessage,
  body: Buffer,
  res: ServerResponse,
  leader: URL,
  callId: string = randomUUID(),
  callKeys: Map<string, ReadonlySet<string>> = new Map(),
): Promise<void> {
  return new Promise((resolve, reject) => {
    let answered = false;
    // The connection to the leader was open (a new one connected, or a kept-alive one reused): what was sent may
    // have reached it.
    let connected = false;
    // A client that leaves (a closed tab, a dropped SSE stream) ends the request to the leader too. An attempt
    // that found no leader takes its listener away again: a request may try many times during an election.
    const clientLeft = () => upstream.destroy();
    const unreachable = (why: string) => {
      res.off("close", clientLeft);
      reject(new LeaderUnreachable(why));
    };
    const upstream = request(
      {
        host: leader.hostname,
        port: leader.port,
        method: req.method,
        path: req.url,
        headers: { ...forwardedHeaders(req, callId), "content-length": String(body.length) },
        // A call that changes something goes on a connection of its own: a kept-alive one the leader is closing as
        // idle would break under it, and it could not be sent again (see LeaderLost).
        ...(IDEMPOTENT.has(req.method ?? "GET") ? {} : { agent: false }),
      },
      (reply) => {
        if (reply.headers[CALL_ID_HEADER] === callId) {
          callKeys.set(leader.host, keyedByCallId(reply.headers[CALL_KEYS_HEADER]));
        } else {
          // A server at that address that does not echo it (one rolled back to an older version) keys nothing.
          callKeys.delete(leader.host);
        }
        delete reply.headers[CALL_ID_HEADER];
        delete reply.headers[CALL_KEYS_HEADER];
        if (reply.statusCode === 503 && reply.headers[NOT_LEADER_HEADER]) {
          // It leads no more (a leader stepping down, or one a follower still took for the leader): nothing was done.
          reply.resume();
          unreachable(`the server at ${leader.host} ${NO_LONGER_LEADS}`);
          return;
        }
        answered = true;
        res.writeHead(reply.statusCode ?? 502, endToEnd(reply.headers));
        reply.pipe(res);
        reply.on("error", () => res.destroy());
        reply.on("end", () => resolve());
        reply.on("close", () => resolve());
      },
    );
    upstream.on("socket", (socket) => {
      if (!socket.connecting) connected = true;
      else socket.once("connect", () => (connected = true));
    });
    upstream.on("error", (error) => {
      if (answered) {
        res.destroy();
        resolve();
        return;
      }
      if (connected && !IDEMPOTENT.has(req.method ?? "GET")) {
        res.off("close", clientLeft);
        reject(
          new LeaderLost(
            `the leader at ${leader.host} went away while it handled this call: ${error.message}`,
            mayResend(req, callKeys.get(leader.host) ?? NONE_KEYED),
          ),
        );
        return;
      }
      // Refused before anything reached it, or a call that changes nothing: the next leader may take it.
      unreachable(`the leader at ${leader.host} does not answer: ${error.message}`);
    });
    res.on("close", clientLeft);
    upstream.end(body);
  });
}

/** The port a leader's URL names: an http:// URL leaves out port 80 (`CLUSTER_URL=http://anvil-1`). */
export const leaderPort = (leader: URL): number => (leader.port === "" ? 80 : Number(leader.port));

/** The leader's socket, once it is open; null when the leader cannot be reached (it went away). */
export const openTo = (leader: URL): Promise<Socket | null> =>
  new Promise((resolve) => {
    const upstream = connect(leaderPort(leader), leader.hostname, () => {
      upstream.off("error", failed);
      resolve(upstream);
    });
    const failed = () => {
      upstream.destroy();
      resolve(null);
    };
    upstream.once("error", failed);
    upstream.setTimeout(5_000, failed);
  });

/** The raw bytes of an upgrade both ways between the client's socket and the leader's open one. */
function pipeUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, upstream: Socket): void {
  upstream.setTimeout(0);
  const lines = [`${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
  lines.push("X-Anvil-Forwarded: 1", "", "");
  upstream.write(lines.join("\r\n"));
  if (head.length > 0) upstream.write(head);
  upstream.pipe(socket);
  socket.pipe(upstream);
  const close = () => {
    upstream.destroy();
    socket.destroy();
  };
  upstream.on("error", close);
  socket.on("error", close);
  upstream.on("close", close);
  socket.on("close", close);
}

/**
 * Forwards a WebSocket upgrade to the leader. Across a failover it waits for the next leader, as a request does
 * (see {@link forwardToLeader}): a page that opens its socket then would otherwise take the refusal for a proxy that
 * does not pass upgrades on. The socket is closed once `waitMs` is over without a leader.
 */
export async function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  lookup: Omit<LeaderLookup, "maxBodyBytes">,
): Promise<void> {
  // An upgrade a follower forwarded here, to a server that no longer leads, is not sent round again.
  if (req.headers["x-anvil-forwarded"]) return void socket.destroy();
  const why = await toLeader(
    lookup,
    () => socket.destroyed,
    async (leader) => {
      const upstream = await openTo(leader);
      if (!upstream) return "the leader does not answer";
      if (socket.destroyed) upstream.destroy();
      else pipeUpgrade(req, socket, head, upstream);
      return null;
    },
  );
  if (why !== null) socket.destroy();
}

/** How often a call held across an election looks for the leader again (see {@link toLeader}). */
export const LEADER_RETRY_MS = 200;

/**
 * How long a new leader waits before it starts a job, so that the calls its followers held during the election reach
 * it first (a cancel of a job it would otherwise start again): two of their looks for the leader, and some to spare.
 */
export const HELD_CALLS_MS = 2 * LEADER_RETRY_MS + 100;

/** How a follower finds the leader to forward to. */
export interface LeaderLookup {
  /** The URL of the server that leads now (this one's own once it leads), or undefined while none is known. */
  leaderUrl: () => Promise<string | undefined>;
  /** The leader just did not answer: ask the cluster again next time. */
  forgetLeader: () => void;
  /** How long a request may wait for a leader: across an election and a lease that has to run out. */
  waitMs: number;
  /**
   * Told after each try: the leader answered (`why` null), or why it could not be reached; `since` is when the call
   * began to look for a leader (`performance.now()`), so that a call that gave up waited that long.
   */
  tried?: (leader: string, why: string | null, since: number) => void;
  /** The largest body the leader takes for this request. */
  maxBodyBytes: (req: IncomingMessage) => number;
  /**
   * The leaders (by host) that echoed a call id, filled in as they answer, each with the procedures to which it gives
   * the call's id as a default idempotency key (a key-less submission, a retry): such a call one of them took and
   * never answered may go to the next leader. One per server; without it, none is sent again.
   */
  callKeys?: Map<string, ReadonlySet<string>>;
}

/**
 * A follower's answer: the leader's. Across a failover (the leader killed, the lease running out, the next
 * leader taking over) the request waits for the next leader, as long as nothing reached the old one.
 */
export const forwardToLeader = async (
  req: IncomingMessage,
  res: ServerResponse,
  { maxBodyBytes, callKeys, ...lookup }: LeaderLookup,
): Promise<void> => {
  // A request a follower forwarded here, to a server that no longer leads, is not sent round again.
  if (req.headers["x-anvil-forwarded"]) return noLeader(res, "the server it reached no longer leads");
  const limit = maxBodyBytes(req);
  const body = await readBody(req, limit);
  if (body === null) return bodyTooLarge(res, limit);
  // This server may have become the leader meanwhile: then it answers itself, through the same path.
  let lost: LeaderLost | null = null;
  // One id for every leader the call goes to: a resent submission is known by it (see resend-safe.ts).
  const callId = randomUUID();
  const why = await toLeader(
    lookup,
    () => res.destroyed,
    async (leader) => {
      try {
        await forwardHttp(req, body, res, leader, callId, callKeys);
        return null;
      } catch (error) {
        if (error instanceof LeaderLost && error.resendable) {
          // Done twice, it does what it did once: the next leader answers it (with the jobs a submission made).
          lost = error;
          return error.message;
        }
        if (error instanceof LeaderLost) {
          // Not sent round again: its caller learns that the outcome is unknown (and looks, or retries by key).
          lost = error;
          lookup.forgetLeader();
          return null;
        }
        if (!(error instanceof LeaderUnreachable)) throw error;
        return error.message;
      }
    },
  );
  // A resendable call that found no leader after it was lost: its outcome is as unknown as any other's.
  if (lost !== null && (why !== null || !(lost as LeaderLost).resendable)) {
    const { resendable } = lost as LeaderLost;
    const message = resendable
      ? `${(lost as LeaderLost).message}; sent again, it reached no leader: ${why}`
      : (lost as LeaderLost).message;
    if (res.headersSent) res.destroy();
    else
      trpcErrorReply(
        res,
        "BAD_GATEWAY",
        `${message}; it may or may not have taken effect: look before calling again (a submission with the same idempotencyKey is safe to send again)`,
      );
  } else if (why !== null) noLeader(res, why);
};

/**
 * Runs `attempt` on the server that leads now until one reaches it (`attempt` answers null; else why not), the
 * client is gone, or `waitMs` is over: across a failover, the next leader. A leader that could not be reached is
 * forgotten and the cluster asked again, {@link LEADER_RETRY_MS} later. Null once reached, else why no leader was.
 */
async function toLeader(
  { leaderUrl, forgetLeader, waitMs, tried }: Omit<LeaderLookup, "maxBodyBytes">,
  gone: () => boolean,
  attempt: (leader: URL) => Promise<string | null>,
): Promise<string | null> {
  const began = performance.now();
  const deadline = began + waitMs;
  let why = "an election is under way";
  while (!gone() && performance.now() < deadline) {
    const target = await leaderUrl();
    if (target) {
      const failed = await attempt(new URL(target));
      tried?.(target, failed, began);
      if (failed === null) return null;
      why = failed;
      forgetLeader();
    }
    await new Promise((resolve) => setTimeout(resolve, LEADER_RETRY_MS));
  }
  return why;
}

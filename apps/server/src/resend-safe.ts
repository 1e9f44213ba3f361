import type { IncomingMessage } from "node:http";
import { proceduresOf } from "./request-limits";
import { urlOf } from "./request-target";

/**
 * The header a follower tags each call it forwards with: a fresh id, the same on every leader it sends the call to.
 * A leader that takes it answers with it (so the follower learns that it does), and makes it the default
 * idempotency key of the call's key-less submissions (see `callKey` in @anvil/api).
 */
export const CALL_ID_HEADER = "x-anvil-call-id";

/**
 * The header a leader answers a forwarded call with beside the call id: the procedures to which it gives a call id as
 * their default idempotency key, comma-separated. A leader that echoes the call id without it (a server of an
 * earlier version) keys only submissions ({@link KEYED_UNLISTED}).
 */
export const CALL_KEYS_HEADER = "x-anvil-call-keys";

/** A call id as a follower makes one (a UUID): anything else in the header is not taken. */
const CALL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The call id of a call a follower forwarded here (a `POST` carrying `x-anvil-forwarded` and a UUID in
 * {@link CALL_ID_HEADER}), or undefined. A caller may set both headers itself: the keys it then picks are its own (an
 * idempotency key is matched within its owner's jobs only), as if it had sent `idempotencyKey`. A WebSocket's
 * upgrade (a `GET`) carries none, so its calls never share one.
 */
export const forwardedCallId = (req: IncomingMessage): string | undefined => {
  if (req.method !== "POST" || !req.headers["x-anvil-forwarded"]) return undefined;
  const id = req.headers[CALL_ID_HEADER];
  return typeof id === "string" && CALL_ID.test(id) ? id : undefined;
};

/**
 * The mutations a follower may send to the next leader when the leader it sent them to went away before it answered
 * (it may have done them), and what that takes:
 * - `call id`: a submission (or a retry, which submits a job) without its own idempotencyKey takes the call id as its
 *   default key there (one per batch index and item), so the next leader answers with the jobs the first made, or
 *   makes them once; only when the lost leader is known to have keyed that procedure by call ids (it said so in an
 *   answer before: a server of an earlier version would have stored the jobs without a key).
 * - `as is`: done twice, the same as done once. A cancel of a cancelled job answers it; a move to the front or back
 *   leaves the job there (a job that started meanwhile answers CONFLICT, as it would have); a pause or resume sets
 *   the same flag again.
 * Every other one (users.create, conversations.create, …) is answered 502: it may have taken effect.
 */
const RESENT: ReadonlyMap<string, "call id" | "as is"> = new Map([
  ["jobs.submit", "call id"],
  ["jobs.submitMany", "call id"],
  ["jobs.retry", "call id"],
  ["jobs.cancel", "as is"],
  ["jobs.move", "as is"],
  ["queue.pause", "as is"],
  ["queue.resume", "as is"],
]);

/** What this server gives a forwarded call's id to as a default key: {@link CALL_KEYS_HEADER}'s value. */
export const CALL_KEYED: string = [...RESENT].flatMap(([name, needs]) => (needs === "call id" ? [name] : [])).join(",");

/** What a leader that echoes call ids without {@link CALL_KEYS_HEADER} keys with them: it did not key retries yet. */
const KEYED_UNLISTED: ReadonlySet<string> = new Set(["jobs.submit", "jobs.submitMany"]);

/**
 * The procedures a leader keys by the call id, from its answer's {@link CALL_KEYS_HEADER} (`listed`): what it lists,
 * or, when it lists nothing, what a leader before that header keyed.
 */
export const keyedByCallId = (listed: string | string[] | undefined): ReadonlySet<string> =>
  typeof listed === "string" ? new Set(listed.split(",").map((name) => name.trim())) : KEYED_UNLISTED;

/**
 * Whether a follower may send `req` (a `POST` it forwarded) to the next leader after the one it reached went away
 * with it unanswered: every call it carries (a tRPC batch `/trpc/a,b?batch=1` carries several) is one of
 * {@link RESENT}, and one that needs the call id only if that leader keyed it by the call id (`keyed`, from its
 * earlier answers: {@link keyedByCallId}; empty for a leader that never echoed one).
 */
export const mayResend = (req: Pick<IncomingMessage, "url" | "method">, keyed: ReadonlySet<string>): boolean => {
  if (req.method !== "POST") return false;
  const url = urlOf(req as IncomingMessage);
  const procedures = url ? proceduresOf(url.pathname) : null;
  if (!procedures || procedures.length === 0) return false;
  return procedures.every((name) => {
    const needs = RESENT.get(name);
    return needs === "as is" || (needs === "call id" && keyed.has(name));
  });
};

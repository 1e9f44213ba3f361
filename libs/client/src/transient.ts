import { TRPCClientError } from "@trpc/client";

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
]);

/** TLS errors of a server that answered an https:// call in plain HTTP (or in another protocol than TLS). */
const NOT_TLS = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

/**
 * What the error of an https:// request to a server that answers in plain HTTP says (create-client.ts): an event
 * stream passes on only its words (watch.ts).
 */
export const NOT_TLS_SAID = "does not speak TLS (https://) there";

/**
 * True when an https:// call reached a server that does not speak TLS there (one served as http://): an answer came,
 * in another protocol, so trying again cannot help; the address is wrong.
 */
export function isNotTls(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && NOT_TLS.has(code)) return true;
  }
  return false;
}

/** True when a call got no answer at all: nothing listens there, the connection broke, the name does not resolve. */
export function isNetworkError(error: unknown): boolean {
  if (isNotTls(error)) return false;
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (networkCode(cause) !== undefined) return true;
    if (cause instanceof TypeError && /fetch failed|Failed to fetch|NetworkError/i.test(cause.message)) return true;
  }
  return false;
}

const networkCode = (error: Error): string | undefined => {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && UNREACHABLE_CODES.has(code) ? code : undefined;
};

/**
 * Why a call got no answer, in words for the person who set the address (`isNetworkError`'s causes): nothing listens
 * there, its host name does not resolve, its host does not answer, or the connection broke.
 */
export function whyUnreachable(error: unknown): string {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    // fetch keeps off ports that other protocols use (Fetch standard's "bad ports": 9, 25, 6000 …) without connecting.
    if (cause.message === "bad port") return "fetch never connects to that port (one the Fetch standard blocks)";
    switch (networkCode(cause)) {
      case "ECONNREFUSED":
        return "nothing answers there (is the server running, and is that its address?)";
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return "its host name does not resolve";
      case "EHOSTUNREACH":
      case "ETIMEDOUT":
        return "its host does not answer";
      case "ECONNRESET":
      case "UND_ERR_SOCKET":
        return "the connection broke (a server restarting, or the network)";
    }
  }
  return "no answer came";
}

/**
 * The HTTP status of a tRPC call that got an answer, if it did: from tRPC's error data, the response, or (for a
 * subscription, whose EventSource failed the connection) the error event's `code` or its "Non-200 status code (401)",
 * or (a WebSocket that `ws` could not open) its "Unexpected server response: 401".
 */
export function httpStatusOf(error: unknown): number | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { httpStatus?: unknown } | undefined;
  if (typeof data?.httpStatus === "number") return data.httpStatus;
  const status = (error.meta as { response?: { status?: unknown } } | undefined)?.response?.status;
  if (typeof status === "number") return status;
  for (let cause: unknown = error; typeof cause === "object" && cause !== null;) {
    const { code, message } = cause as { code?: unknown; message?: unknown };
    if (typeof code === "number" && code >= 100 && code < 600) return code;
    const quoted =
      typeof message === "string"
        ? (/Non-200 status code \((\d{3})\)/.exec(message) ?? /^Unexpected server response: (\d{3})$/.exec(message))
        : null;
    if (quoted) return Number(quoted[1]);
    const next = (cause as { cause?: unknown }).cause;
    if (next === cause) break;
    cause = next;
  }
  return undefined;
}

const UNAVAILABLE = new Set([502, 503, 504]);

/** The wait before the next try of a call that failed for a while, by attempt (1, 2 …): from 250 ms, doubling, up to 5 s. */
export const backoffMs = (attempt: number): number => Math.min(5_000, 250 * 2 ** (attempt - 1));

/**
 * True when the same call may succeed if sent again shortly: no answer came (the server is restarting, the network
 * dropped), or the server said it cannot take it now (503: between two leaders of a cluster, its database away).
 */
export function isTransient(error: unknown): boolean {
  if (isNetworkError(error)) return true;
  if (
    error instanceof TRPCClientError &&
    (error.data as { code?: unknown } | undefined)?.code === "SERVICE_UNAVAILABLE"
  )
    return true;
  const status = httpStatusOf(error);
  return status !== undefined && UNAVAILABLE.has(status);
}

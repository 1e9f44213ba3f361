import { Data } from "effect";

/** Why a call to Forge failed. */
export type ForgeErrorReason =
  /** Connection refused, DNS failure, bad URL: nothing reached the server, so a retry is safe. */
  | "Unreachable"
  /** The connection dropped after the request was sent: the backend may still be working on it. */
  | "ConnectionLost"
  /** CUDA out of memory on the backend. */
  | "OutOfMemory"
  /** Any other non-2xx answer (5xx, 404, …). */
  | "HttpError"
  /** 422 from FastAPI's validation. */
  | "InvalidRequest"
  /** The answer was not JSON or not the expected shape. */
  | "BadResponse"
  /** A txt2img answer without an image, e.g. after an interrupt. */
  | "NoImage"
  /** 401: Forge runs with `--api-auth` and the URL's credentials are missing or wrong. */
  | "Unauthorized"
  /** Someone pressed Interrupt or Skip in Forge's own UI: the 200 carries an unfinished image. */
  | "Interrupted"
  /** The image was made with another checkpoint than the one asked for (an old Forge ignores the override). */
  | "WrongModel"
  /** No answer within the request timeout. */
  | "Timeout";

/** A failed call to a Forge backend; `message` is meant for end users. */
export class ForgeError extends Data.TaggedError("ForgeError")<{
  readonly reason: ForgeErrorReason;
  readonly message: string;
  readonly backendUrl: string;
  readonly cause?: unknown;
}> {}

/**
 * Failures after which what the call asked for may still run on Forge: the request reached it and no answer came (a
 * generation, a rescan). Forge does not stop a request whose client left. After any other failure (Forge answered, or
 * never got the request) nothing of it runs there.
 */
export const MAY_STILL_RUN: ReadonlySet<ForgeErrorReason> = new Set(["ConnectionLost", "Timeout"]);

const unreachableCodes: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EHOSTDOWN: "host down",
  EADDRNOTAVAIL: "address not available",
  UND_ERR_CONNECT_TIMEOUT: "connect timed out",
  ERR_INVALID_URL: "invalid URL",
};

// TLS failures: the server was reached but not trusted, so nothing ran there either.
const untrustedCodes = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
]);

// TLS that found no TLS: an https:// URL for a server that speaks plain HTTP, as Forge does unless told otherwise.
const notTlsCodes = new Set(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"]);

const timeoutCodes = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

type ErrorRecord = { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown; reason?: unknown };

/**
 * A fetch failure and the errors it carries, outermost first: undici nests the socket error in `cause`, and an
 * AggregateError (one per address tried) in `errors`.
 */
const errorsAlong = (error: unknown, depth = 0): ErrorRecord[] => {
  if (typeof error !== "object" || error === null || depth > 5) return [];
  const record = error as ErrorRecord;
  const nested = Array.isArray(record.errors) ? record.errors.flatMap((e) => errorsAlong(e, depth + 1)) : [];
  return [record, ...nested, ...errorsAlong(record.cause, depth + 1)];
};

/** An error's code, as a list (none, or one; fetch refuses some ports before connecting and says so only in words). */
const codesOf = (record: ErrorRecord): string[] => [
  ...(typeof record.code === "string" ? [record.code] : []),
  ...(record.message === "bad port" ? ["ERR_BAD_PORT"] : []),
];

/** Classifies a rejected `fetch`: Unreachable only when the request cannot have reached the server. */
export const fetchFailure = (backendUrl: string, cause: unknown): ForgeError => {
  const along = errorsAlong(cause);
  const codes = along.flatMap(codesOf);
  const altName = along.find((record) => record.code === "ERR_TLS_CERT_ALTNAME_INVALID");
  if (altName) {
    // Trusted or not, the certificate names other hosts: NODE_EXTRA_CA_CERTS would not help.
    const { reason } = altName;
    return new ForgeError({
      reason: "Unreachable",
      message:
        `Forge at ${backendUrl} has a TLS certificate for another host name` +
        `${typeof reason === "string" ? ` (${reason})` : ""}; use in FORGE_URL a name the certificate holds`,
      backendUrl,
      cause,
    });
  }
  const notTls = codes.find((code) => notTlsCodes.has(code));
  if (notTls !== undefined) {
    return new ForgeError({
      reason: "Unreachable",
      message:
        `Forge at ${backendUrl} does not answer in TLS (${notTls}): ` +
        "if it serves plain HTTP, as Forge does by default, FORGE_URL should begin with http://",
      backendUrl,
      cause,
    });
  }
  const untrusted = codes.find((code) => untrustedCodes.has(code));
  if (untrusted !== undefined) {
    return new ForgeError({
      reason: "Unreachable",
      message:
        `Forge at ${backendUrl} has a TLS certificate that Node does not trust (${untrusted}); ` +
        "start Anvil with NODE_EXTRA_CA_CERTS=/path/to/ca.pem naming the certificate or its CA",
      backendUrl,
      cause,
    });
  }
  const unreachable = codes.find((code) => code in unreachableCodes || code === "ERR_BAD_PORT");
  if (unreachable !== undefined) {
    const why = unreachableCodes[unreachable] ?? "port not allowed";
    return new ForgeError({
      reason: "Unreachable",
      message: `Forge is unreachable at ${backendUrl} (${why})`,
      backendUrl,
      cause,
    });
  }
  if (codes.some((code) => timeoutCodes.has(code))) {
    return new ForgeError({
      reason: "Timeout",
      // Node's fetch (undici) gives up on a reply after 300 s by default, whatever the caller's own bound.
      message: `Forge at ${backendUrl} did not answer within the HTTP client's limit (300 s for Node's fetch)`,
      backendUrl,
      cause,
    });
  }
  return connectionLost(backendUrl, cause);
};

/** The connection broke after the request went out. */
export const connectionLost = (backendUrl: string, cause: unknown): ForgeError =>
  new ForgeError({
    reason: "ConnectionLost",
    message: `Lost the connection to Forge at ${backendUrl} while it was working on the request`,
    backendUrl,
    cause,
  });

import { Effect, Schedule } from "effect";
import { connectionLost, fetchFailure, ForgeError } from "./errors";
import { cleanText } from "./text";

/** Settings shared by every call to one backend. */
export interface HttpSettings {
  readonly baseUrl: string;
  /** The `Authorization` header for Forge's `--api-auth`, or null. */
  readonly authorization: string | null;
  readonly connectRetries: number;
  readonly fetch: typeof fetch;
}

/** One call: `timeoutMs` undefined means the caller bounds it. */
export interface HttpCall {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: unknown;
  readonly timeoutMs?: number | undefined;
  /**
   * Told the status and content type as soon as the answer's headers arrive, before its body is read (a large image
   * takes a while).
   */
  readonly onAnswered?: ((status: number, contentType: string) => void) | undefined;
  /** Told once the request has been handed to the connection, before any answer. */
  readonly onSent?: (() => void) | undefined;
}

interface RawReply {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** Marks a rejection of `fetch` itself, as opposed to one while reading the body. */
class SendFailure {
  constructor(readonly cause: unknown) {}
}

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** A backend's string, cleaned (NUL, lone surrogates, length) before anything stores or shows it. */
const text = (value: unknown, max?: number): string => (typeof value === "string" ? cleanText(value, max) : "");

const parseJson = (raw: string): { ok: true; value: unknown } | { ok: false } => {
  // JSON.parse is the one parser that throws; keep that out of the Effect code.
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
};

/** FastAPI's `{ detail: [{ loc, msg }] }` as "steps: msg; width: msg". */
const validationMessage = (body: unknown): string => {
  const detail = asRecord(body)["detail"];
  if (!Array.isArray(detail)) return text(detail) || "invalid request";
  return detail
    .map((item) => {
      const { loc, msg } = asRecord(item);
      const path = Array.isArray(loc) ? loc.filter((part, i) => !(i === 0 && part === "body")).join(".") : "";
      return path ? `${path}: ${text(msg)}` : text(msg);
    })
    .join("; ");
};

/** Gateways answer these when they give up on a slow upstream; Forge behind them goes on generating. */
const GATEWAY_STATUSES = new Set([502, 503, 504]);

/** Maps a non-2xx reply to the error a user should read; `sentCredentials`: the request carried FORGE_URL's. */
const statusFailure = (backendUrl: string, reply: RawReply, sentCredentials: boolean): ForgeError => {
  const parsed = parseJson(reply.text);
  const body = parsed.ok ? asRecord(parsed.value) : {};
  if (reply.status === 422) {
    const detail = parsed.ok ? validationMessage(parsed.value) : text(reply.text, 200);
    return new ForgeError({
      reason: "InvalidRequest",
      message: `Forge rejected the request: ${cleanText(detail, 500)}`,
      backendUrl,
      cause: body,
    });
  }
  if (reply.status === 401) {
    return new ForgeError({
      reason: "Unauthorized",
      message: sentCredentials
        ? `Forge at ${backendUrl} refused the user name and password in FORGE_URL: ` +
          "check them against Forge's --api-auth (percent-encode @, / or % in them)"
        : `Forge at ${backendUrl} wants credentials (it runs with --api-auth): ` +
          "put them in FORGE_URL as http://user:password@host:port",
      backendUrl,
    });
  }
  if (GATEWAY_STATUSES.has(reply.status) && !parsed.ok) {
    // An HTML page from nginx or a load balancer: the request reached Forge, which goes on without a client.
    return new ForgeError({
      reason: "ConnectionLost",
      message:
        `A proxy in front of Forge at ${backendUrl} gave up on the request (HTTP ${reply.status}); ` +
        "raise its read timeout above JOB_TIMEOUT_MS",
      backendUrl,
      cause: text(reply.text, 200),
    });
  }
  // Forge answers { error, detail, body, message } (webui.py); A1111's handler had { …, errors }.
  const error = text(body["error"], 200);
  const details = text(body["message"]) || text(body["errors"]) || text(body["detail"]);
  if (error === "OutOfMemoryError" || /out of memory/i.test(details)) {
    return new ForgeError({
      reason: "OutOfMemory",
      message: `Forge ran out of GPU memory: ${details || error}`,
      backendUrl,
      cause: body,
    });
  }
  const what = [error, details].filter(Boolean).join(": ") || text(reply.text, 200) || "no details";
  const hint =
    reply.status === 404
      ? " (is Forge started with --api, and done starting? Its web page answers before its API does)"
      : "";
  return new ForgeError({
    reason: "HttpError",
    message: `Forge failed (HTTP ${reply.status}): ${what}${hint}`,
    backendUrl,
    cause: parsed.ok ? body : text(reply.text, 500),
  });
};

/** Sends one request and reads the whole body; the fetch is aborted when the fiber is interrupted. */
const send = (settings: HttpSettings, call: HttpCall): Effect.Effect<RawReply, ForgeError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const sending = settings.fetch(`${settings.baseUrl}${call.path}`, {
        method: call.method,
        headers: {
          ...(call.body === undefined ? {} : { "content-type": "application/json" }),
          ...(settings.authorization === null ? {} : { authorization: settings.authorization }),
        },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal,
      });
      call.onSent?.();
      const response = await sending.catch((cause: unknown) => {
        throw new SendFailure(cause);
      });
      const contentType = response.headers.get("content-type") ?? "";
      call.onAnswered?.(response.status, contentType);
      return { status: response.status, contentType, text: await response.text() };
    },
    catch: (cause) =>
      cause instanceof SendFailure
        ? fetchFailure(settings.baseUrl, cause.cause)
        : connectionLost(settings.baseUrl, cause),
  });

/** Calls Forge and returns its parsed JSON; retries only while nothing could have reached the server. */
export const requestJson = (settings: HttpSettings, call: HttpCall): Effect.Effect<unknown, ForgeError> => {
  const attempt =
    call.timeoutMs === undefined
      ? send(settings, call)
      : send(settings, call).pipe(
          Effect.timeoutOrElse({
            duration: call.timeoutMs,
            orElse: () =>
              Effect.fail(
                new ForgeError({
                  reason: "Timeout",
                  message: `Forge at ${settings.baseUrl} did not answer ${call.path} within ${call.timeoutMs} ms`,
                  backendUrl: settings.baseUrl,
                }),
              ),
          }),
        );
  return attempt.pipe(
    Effect.retry({
      schedule: Schedule.exponential("100 millis"),
      times: settings.connectRetries,
      while: (error: ForgeError) => error.reason === "Unreachable",
    }),
    Effect.flatMap((reply) => {
      if (reply.status < 200 || reply.status >= 300)
        return Effect.fail(statusFailure(settings.baseUrl, reply, settings.authorization !== null));
      const parsed = parseJson(reply.text);
      return parsed.ok
        ? Effect.succeed(parsed.value)
        : Effect.fail(
            new ForgeError({
              reason: "BadResponse",
              // A web page where Forge's API should be: a FORGE_URL naming another server (Anvil's own port, a
              // proxy's sign-in page) reads as such, not as a Forge that misbehaves.
              message:
                `Forge answered with something that is not JSON (${text(reply.contentType, 100) || "no content type"} ` +
                `to ${call.path.replace(/\?.*$/, "")}): is ${settings.baseUrl} Forge's address?`,
              backendUrl: settings.baseUrl,
              cause: text(reply.text, 500),
            }),
          );
    }),
  );
};

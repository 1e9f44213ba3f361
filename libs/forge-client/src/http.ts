import { Effect, Schedule } from "effect";
import { connectionLost, fetchFailure, ForgeError } from "./errors";

/** Settings shared by every call to one backend. */
export interface HttpSettings {
  readonly baseUrl: string;
  readonly connectRetries: number;
  readonly fetch: typeof fetch;
}

/** One call: `timeoutMs` undefined means the caller bounds it. */
export interface HttpCall {
  readonly method: "GET" | "POST";
  readonly path: string;
  readonly body?: unknown;
  readonly timeoutMs?: number | undefined;
}

interface RawReply {
  readonly status: number;
  readonly text: string;
}

/** Marks a rejection of `fetch` itself, as opposed to one while reading the body. */
class SendFailure {
  constructor(readonly cause: unknown) {}
}

const asRecord = (value: unknown): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

const text = (value: unknown): string => (typeof value === "string" ? value.trim() : "");

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

/** Maps a non-2xx reply to the error a user should read. */
const statusFailure = (backendUrl: string, reply: RawReply): ForgeError => {
  const parsed = parseJson(reply.text);
  const body = parsed.ok ? asRecord(parsed.value) : {};
  if (reply.status === 422) {
    const detail = parsed.ok ? validationMessage(parsed.value) : text(reply.text).slice(0, 200);
    return new ForgeError({
      reason: "InvalidRequest",
      message: `Forge rejected the request: ${detail}`,
      backendUrl,
      cause: body,
    });
  }
  const error = text(body["error"]);
  const details = text(body["errors"]) || text(body["detail"]);
  if (error === "OutOfMemoryError" || /out of memory/i.test(details)) {
    return new ForgeError({
      reason: "OutOfMemory",
      message: `Forge ran out of GPU memory: ${details || error}`,
      backendUrl,
      cause: body,
    });
  }
  const what = [error, details].filter(Boolean).join(": ") || text(reply.text).slice(0, 200) || "no details";
  const hint = reply.status === 404 ? " (is Forge started with --api?)" : "";
  return new ForgeError({
    reason: "HttpError",
    message: `Forge failed (HTTP ${reply.status}): ${what}${hint}`,
    backendUrl,
    cause: parsed.ok ? body : reply.text,
  });
};

/** Sends one request and reads the whole body; the fetch is aborted when the fiber is interrupted. */
const send = (settings: HttpSettings, call: HttpCall): Effect.Effect<RawReply, ForgeError> =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await settings
        .fetch(`${settings.baseUrl}${call.path}`, {
          method: call.method,
          headers: call.body === undefined ? {} : { "content-type": "application/json" },
          body: call.body === undefined ? undefined : JSON.stringify(call.body),
          signal,
        })
        .catch((cause: unknown) => {
          throw new SendFailure(cause);
        });
      return { status: response.status, text: await response.text() };
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
      if (reply.status < 200 || reply.status >= 300) return Effect.fail(statusFailure(settings.baseUrl, reply));
      const parsed = parseJson(reply.text);
      return parsed.ok
        ? Effect.succeed(parsed.value)
        : Effect.fail(
            new ForgeError({
              reason: "BadResponse",
              message: "Forge answered with something that is not JSON",
              backendUrl: settings.baseUrl,
              cause: reply.text.slice(0, 500),
            }),
          );
    }),
  );
};

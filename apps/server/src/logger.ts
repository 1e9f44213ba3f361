import { failureReason } from "@anvil/api";
import type { GenerationFailure, JobServiceObserver } from "@anvil/api";
import { isFinalStatus } from "@anvil/job-machine";
import { ForgeError } from "@anvil/forge-client";
import { databaseErrorText, errorChain } from "@anvil/persistence";
import { pino } from "pino";
import type { DestinationStream, Level, LevelWithSilent, Logger } from "pino";

/** How the server logs. */
export interface LoggerOptions {
  level: LevelWithSilent;
  /** One readable line per entry (`HH:MM:SS LEVEL message key=value`) instead of JSON. */
  pretty: boolean;
  /** Where lines go; stdout by default. */
  destination?: { write(line: string): unknown };
  /** ANSI colours in pretty output. */
  color?: boolean;
}

const LEVELS: Record<number, Level> = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const COLORS: Record<Level, string> = {
  trace: "90",
  debug: "36",
  info: "32",
  warn: "33",
  error: "31",
  fatal: "35",
};
const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "service", "err"]);

const show = (value: unknown): string => {
  if (typeof value === "string") return /^[^\s="]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
};

/** Formats one pino JSON line as `HH:MM:SS LEVEL message key=value …`, with an error's stack below it. */
export function formatLine(line: string, color = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = new Date(typeof entry["time"] === "number" ? entry["time"] : Date.now()).toTimeString().slice(0, 8);
  const level = LEVELS[Number(entry["level"])] ?? "info";
  const label = level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => `${key}=${show(value)}`);
  const err = entry["err"] as { type?: string; message?: string; stack?: string } | undefined;
  if (err) fields.push(`err=${show(`${err.type ?? "Error"}: ${err.message ?? ""}`)}`);
  const head = `${time} ${color ? `\u001b[${COLORS[level]}m${label}\u001b[39m` : label} ${String(entry["msg"] ?? "")}`;
  const stack =
    err?.stack && (level === "error" || level === "fatal") ? `\n    ${err.stack.split("\n").join("\n    ")}` : "";
  return `${[head, ...fields].join(" ")}${stack}\n`;
}

/** A pino destination that writes readable lines (pino-pretty's job, without the dependency). */
export const prettyDestination = (out: { write(line: string): unknown }, color: boolean): DestinationStream => ({
  write: (line: string) => void out.write(formatLine(line, color)),
});

/**
 * An error as pino writes it, but a failed database call in its driver's words alone: drizzle's wrapper ("Failed
 * query: <statement> params: <values>") put users' prompts, and a whole image's bytes (lines of 160 KB), in the log.
 */
const errorSerializer = (error: Error): Record<string, unknown> => {
  const serialized = pino.stdSerializers.err(error);
  if (![...errorChain(error)].some((e) => e.message.startsWith("Failed query:"))) return serialized;
  // Its own fields stay (a tRPC code, a backend's reason); drizzle's statement, its values and the causes that
  // carry them go.
  const {
    query: _query,
    params: _params,
    cause: _cause,
    raw: _raw,
    ...fields
  } = serialized as typeof serialized & {
    query?: unknown;
    params?: unknown;
    cause?: unknown;
  };
  const message = databaseErrorText(error);
  const frames = (error.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  return { ...fields, message, stack: [`${serialized.type}: ${message}`, ...frames].join("\n") };
};

/** The server's logger: JSON lines, or readable ones on a developer's terminal. */
export function createLogger({ level, pretty, destination, color = false }: LoggerOptions): Logger {
  const options = { level, base: { service: "anvil" }, serializers: { err: errorSerializer } };
  if (pretty) return pino(options, prettyDestination(destination ?? process.stdout, color));
  return destination ? pino(options, { write: (line: string) => void destination.write(line) }) : pino(options);
}

const elapsedMs = (from: string | null, to: string | null): number | undefined =>
  from === null || to === null ? undefined : Math.max(0, Date.parse(to) - Date.parse(from));

/**
 * One log line per job status change (with how long it queued and ran), and one per backend failure. `leaseLapsed`:
 * whether this server, a cluster's leader, has been cut off from the database for longer than its lease; a
 * generation that fails then was most likely stopped by the server that took its work over, whatever the backend's
 * answer looks like (the next leader's interrupt reads as Interrupt pressed in Forge's own interface).
 */
export const logObserver = (
  logger: Logger,
  backendUrls: readonly string[],
  leaseLapsed: () => boolean = () => false,
): JobServiceObserver => ({
  submitted: (job) => logger.info({ jobId: job.id, to: "queued", queuePosition: job.queuePosition }, "job → queued"),
  transition: ({ jobId, from, to, backend, attempt }, job) => {
    const fields = {
      jobId,
      from,
      to,
      attempt,
      ...(backend === null ? {} : { backend: backendUrls[backend] ?? backend }),
      // How long its first run waited; a job run again has been away since (its first run is in the time).
      ...(job.startedAt
        ? { [job.attempt === 1 ? "queuedMs" : "sinceSubmittedMs"]: elapsedMs(job.createdAt, job.startedAt) }
        : {}),
      ...(isFinalStatus(to) && job.startedAt ? { runMs: elapsedMs(job.startedAt, job.finishedAt) } : {}),
      ...(job.error ? { error: job.error } : {}),
    };
    logger[to === "error" ? "warn" : "info"](fields, `job ${from} → ${to}`);
  },
  generationFailed: (request, error) => {
    const reason = failureReason(error);
    const backend = backendUrls[request.backend] ?? request.backend;
    if (leaseLapsed()) {
      logger.info(
        { jobId: request.jobId, backend, reason, said: error.message },
        "a generation ended after this server's cluster lease lapsed (the database did not answer its renewals): the server that took its work over most likely stopped it",
      );
      return;
    }
    logger.warn(
      {
        jobId: request.jobId,
        backend,
        reason,
        ...loggedFailure(error),
      },
      `backend error (${reason}): ${error.message}`,
    );
  },
});

/**
 * A failed generation's log fields. Forge's parsed error reply goes beside the error as `forgeReply`, not as its cause:
 * pino takes any cause with a `message` for an error and adds its message to the error's, which says it already.
 */
const loggedFailure = (error: GenerationFailure): Record<string, unknown> => {
  const { cause } = error;
  // Expected (a GPU box went away, and the job runs again): the message says it all, a stack trace nothing more.
  if (error._tag === "BackendLost") return {};
  if (error._tag !== "ForgeError" || cause === undefined || cause instanceof Error) return { err: error };
  // The same error without its cause; pino names an error's type by its class ("ForgeError").
  const { reason, message, backendUrl, stack } = error;
  return { err: Object.assign(new ForgeError({ reason, message, backendUrl }), { stack }), forgeReply: cause };
};

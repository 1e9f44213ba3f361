import { TRPCClientError } from "@trpc/client";
import { isNetworkError, isNotTls, whyUnreachable } from "../transient";
import type { CliEnv } from "./env";

/** What the `anvil` command's exit code means; 130 is a wait stopped by Ctrl-C (128 + SIGINT), as shells count it. */
export const EXIT = { done: 0, failed: 1, usage: 2, unreachable: 3, interrupted: 130 } as const;

/** A failure the command reports in one line and ends with `code`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** `url` as it may be shown: without a user name or password in it, even where it does not parse. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^/]*@/, "//");
  }
}

/**
 * The `ANVIL_URL` a command may use: http(s) without credentials in it, else a usage failure that says so (fetch's
 * "Failed to parse URL" and "Request cannot be constructed from a URL that includes credentials" do not, and the
 * second repeats the password).
 */
export function checkUrl(url: string): string {
  // A space copied along with the address: fetch would fail on it with "Failed to parse URL".
  const given = url.trim();
  if (!/^https?:\/\//i.test(given)) {
    throw new CliFailure(
      `ANVIL_URL must start with http:// or https:// (it is "${withoutCredentials(url)}")`,
      EXIT.usage,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(given);
  } catch {
    throw new CliFailure(
      `ANVIL_URL is not a valid URL (it is "${withoutCredentials(url)}"): it needs a host, and a port from 1 to 65535 if it has one`,
      EXIT.usage,
    );
  }
  // A query or fragment would go before the API's paths (http://host:3000?x=1/trpc/…): every call then missed.
  if (/[?#]/.test(given)) {
    throw new CliFailure(
      `ANVIL_URL must be the server's address without a ?query or #fragment (it is "${withoutCredentials(given)}")`,
      EXIT.usage,
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    throw new CliFailure(
      `ANVIL_URL must not hold a user name or password (it is "${withoutCredentials(given)}"): give the token in ANVIL_TOKEN`,
      EXIT.usage,
    );
  }
  return given;
}

/**
 * Where ANVIL_URL has a path (other than `/trpc`, which the client drops), what to check when the answer is not
 * Anvil's: http://host:3000/foo serves the web app's "Not found" page, whose words alone do not point at the path.
 */
const pathHint = (url: string): string => {
  try {
    const path = new URL(url.trim()).pathname.replace(/\/+$/, "");
    return path === "" || path === "/trpc" ? "" : " (is the path in ANVIL_URL right?)";
  } catch {
    return "";
  }
};

/** True when an answer came that is not JSON: a web page, another server than Anvil. */
const notJson = (error: unknown): boolean => {
  for (let cause = error; cause instanceof Error; cause = cause.cause) if (cause instanceof SyntaxError) return true;
  return false;
};

/** True when an answer came in JSON that has neither tRPC's `result` nor its `error`: another JSON API than Anvil. */
const notTrpc = (error: unknown): boolean => {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    // @trpc/server's TransformResultError, which it does not export.
    if (
      cause.constructor.name === "TransformResultError" ||
      cause.message === "Unable to transform response from server"
    )
      return true;
  }
  return false;
};

/** The command's options for the API's fields, as the server's messages name them. */
const FLAGS: Readonly<Record<string, string>> = {
  negativePrompt: "--negative",
  cfgScale: "--cfg-scale",
  distilledCfgScale: "--distilled-cfg",
  modules: "--module",
  conversationId: "--conversation",
  idempotencyKey: "--key",
  callbackUrl: "--callback",
  // The <id> that wait, cancel, retry and move take: "jobId must be a UUID" named a field the command's user never saw.
  jobId: "the job id",
  ...Object.fromEntries(
    [
      "width",
      "height",
      "steps",
      "seed",
      "sampler",
      "scheduler",
      "checkpoint",
      "priority",
      "limit",
      "owner",
      "status",
    ].map((field) => [field, `--${field}`]),
  ),
};

/**
 * A refusal as the command's user typed it: each part of the server's message that begins with a field's name
 * ("idempotencyKey must not be empty"; "cfgScale: …") begins with its option instead ("--key must not be empty").
 */
export const inFlags = (message: string): string =>
  message
    .split("; ")
    .map((part) => part.replace(/^([A-Za-z]+)(?=[ :.])/, (field: string) => FLAGS[field] ?? field))
    .join("; ");

/** Turns whatever a command threw into a message and an exit code. */
export function classify(error: unknown, env: CliEnv): CliFailure {
  const { url } = env;
  if (error instanceof CliFailure) return error;
  if (isNotTls(error)) {
    return new CliFailure(
      `The server at ANVIL_URL (${url}) does not speak TLS: it answers https:// in plain HTTP (is its address http://?)`,
      EXIT.usage,
    );
  }
  if (isNetworkError(error)) {
    return new CliFailure(
      `Cannot reach Anvil at ${url}: ${whyUnreachable(error)} (ANVIL_URL sets it)`,
      EXIT.unreachable,
    );
  }
  if (error instanceof TRPCClientError) {
    // A 401 from the server's own guard is not a tRPC answer: it has a status but no tRPC error data.
    const status = (error.meta as { response?: { status?: number } } | undefined)?.response?.status;
    const code = (error.data as { code?: string } | undefined)?.code ?? (status === 401 ? "UNAUTHORIZED" : undefined);
    if (code === "BAD_REQUEST") return new CliFailure(inFlags(error.message), EXIT.usage);
    if (code === "SERVICE_UNAVAILABLE")
      return new CliFailure(`Anvil is unavailable: ${error.message}`, EXIT.unreachable);
    if (code === "UNAUTHORIZED") {
      return env.token
        ? new CliFailure(`Anvil at ${url} refused the token in ANVIL_TOKEN (wrong, or its user removed)`, EXIT.failed)
        : new CliFailure(`Anvil at ${url} wants a token: set ANVIL_TOKEN`, EXIT.failed);
    }
    // The command sends each call with its procedure's method: a 405 means ANVIL_URL's path is not Anvil's API
    // (e.g. http://host:3000/foo, whose POSTs the web app refuses), not a refusal of the call.
    if (code === "METHOD_NOT_SUPPORTED") {
      return new CliFailure(
        `The server at ANVIL_URL (${url}) does not answer as Anvil: ${error.message} (is the path in ANVIL_URL right?)`,
        EXIT.usage,
      );
    }
    // Not JSON, or the server's own refusal of a path that names no procedure of its API (tRPC's NOT_FOUNDs name the
    // procedure): ANVIL_URL's path is not where the API is (http://host:3000/anvil/ asks for /anvil/trpc/…).
    const noProcedure = code === "NOT_FOUND" && (error.data as { path?: string } | undefined)?.path === undefined;
    if (noProcedure || (code === undefined && notJson(error))) {
      return new CliFailure(
        `The server at ANVIL_URL (${url}) does not answer as Anvil: ${error.message}${pathHint(url)}`,
        EXIT.usage,
      );
    }
    if (code === undefined && notTrpc(error)) {
      const answered = status === undefined ? "" : `HTTP ${status} with `;
      return new CliFailure(
        `The server at ANVIL_URL (${url}) does not answer as Anvil: ${answered}JSON that is not a tRPC answer`,
        EXIT.usage,
      );
    }
    return new CliFailure(error.message, EXIT.failed);
  }
  return new CliFailure(error instanceof Error ? error.message : String(error), EXIT.failed);
}

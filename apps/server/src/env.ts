import { normalizeBackendUrl } from "@anvil/forge-client";
import { createServer, isIP } from "node:net";
import { z } from "zod";
import { DataDirUnusable } from "./data-dir-lock";

/** A variable's value this server cannot work with: the message is the one line start-up stops with. */
export class InvalidEnvironment extends Error {
  /** `heading`: what the line starts with; a valid variable naming something this machine cannot give says so. */
  constructor(problem: string, options?: ErrorOptions, heading = "Invalid environment") {
    super(`${heading}: ${problem}`, options);
    this.name = "InvalidEnvironment";
  }
}

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === "" ? undefined : s))
  .optional();

/**
 * What is wrong with a Forge URL that parses, or null. Anvil appends `/sdapi/v1/…` to the base URL: a URL copied
 * from Forge's docs page or with a query would only fail later, as a 404 that reads like a Forge without `--api`.
 */
const forgeUrlProblem = (url: URL): string | null => {
  if (/\/sdapi(\/|$)/i.test(url.pathname)) {
    const base = new URL(url.href);
    base.pathname = url.pathname.replace(/\/sdapi(\/.*)?$/i, "");
    base.username = base.password = "";
    return `must be Forge's base URL, without /sdapi/v1 (e.g. ${base.href.replace(/\/+$/, "")})`;
  }
  if (url.search !== "" || url.hash !== "") return "must have no ?query or #fragment";
  return null;
};

/**
 * Whether `url` parses and is a scheme, host and port alone (a trailing slash allowed). Checks go on after z.url
 * failed, so it may not parse; compared by its parts, since the parser lowercases the scheme and host.
 */
const isOriginOnly = (url: string): boolean => {
  if (!URL.canParse(url)) return false;
  const { pathname, search, hash, username, password } = new URL(url);
  return pathname === "/" && search === "" && hash === "" && username === "" && password === "";
};

/**
 * The refusal of a URL that does not parse as `schemes` (e.g. "http(s)"): one written without its scheme
 * (`gpu-box:7860`, as Forge prints its address) is told to add it, with the value it meant; else `otherwise`.
 * No example for one with credentials, which the line would repeat.
 */
const urlRefusal =
  (schemes: string, otherwise: string) =>
  (issue: { input?: unknown }): string => {
    const input = typeof issue.input === "string" ? issue.input : "";
    if (input === "" || input.includes("://")) return otherwise;
    const start = schemes === "http" ? "http://" : "http:// or https://";
    return `must start with ${start}${input.includes("@") ? "" : ` (e.g. http://${input})`}`;
  };

const forgeUrls = optionalString.pipe(
  z
    .string()
    .transform((s) => s.split(",").map((url) => url.trim().replace(/\/+$/, "")))
    .pipe(
      z
        .array(
          z.url({ protocol: /^https?$/, error: urlRefusal("http(s)", "must be http(s) URLs separated by commas") }),
        )
        .min(1, { error: "must name at least one URL" })
        .superRefine((urls, ctx) => {
          // One Forge listed twice would count as two GPUs and run two generations at once on one card.
          const seen = new Set<string>();
          for (const url of urls) {
            // Array checks run after an entry's own failed: that one is reported already.
            if (!URL.canParse(url)) continue;
            const normal = normalizeBackendUrl(url);
            const problem = forgeUrlProblem(new URL(url));
            if (problem) ctx.addIssue({ code: "custom", message: `${normal} ${problem}` });
            if (seen.has(normal)) ctx.addIssue({ code: "custom", message: `names ${normal} twice` });
            seen.add(normal);
          }
        }),
    )
    .optional(),
);

/** The longest delay a Node.js timer takes: a longer one fires at once (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A whole number in decimal digits alone, `min`..`max`, or `fallback` when unset or blank. Not z.coerce.number:
 * Number() reads `1e3`, `3000.0`, ` 3000` and `0x10` too, and a mistyped value should stop start-up, not become
 * another number. `floor` says why `min` where it is more than "0 or more" would.
 */
const wholeNumber = ({ fallback, min, max, floor }: { fallback: number; min: number; max: number; floor?: string }) =>
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return fallback;
      const range =
        max === Number.MAX_SAFE_INTEGER
          ? `${min} or more`
          : max === MAX_TIMER_MS
            ? `${min} or more (at most ${max}, about 24 days)`
            : `${min}..${max}`;
      const refuse = (message: string) => {
        ctx.addIssue({ code: "custom", message, input: value });
        return z.NEVER;
      };
      // Quoted when it is not plain digits, so that a stray space or carriage return shows.
      if (!/^[0-9]+$/.test(value))
        return refuse(`${JSON.stringify(value)} must be a whole number in decimal digits alone, ${range}`);
      const number = Number(value);
      if (number < min) return refuse(`${value} must be ${floor ?? range}`);
      // Above the top, say the top: "must be 0 or more" of 3000000000 reads as if it were too small.
      if (number > max) {
        const top = max === MAX_TIMER_MS ? `${max} (about 24 days, the longest a Node.js timer waits)` : `${max}`;
        return refuse(
          `${value} must be ${max === Number.MAX_SAFE_INTEGER || max === MAX_TIMER_MS ? `at most ${top}` : range}`,
        );
      }
      return number;
    });

/** Milliseconds for a timer: at least `min`, at most what a timer takes. */
const milliseconds = (fallback: number, min: number, floor?: string) =>
  wholeNumber({ fallback, min, max: MAX_TIMER_MS, ...(floor ? { floor } : {}) });

// Labels of letters, digits and hyphens (underscores too: container names carry them); an all-digit last label
// is a mistyped IPv4 address (999.1.1.1), which would otherwise surface only as "getaddrinfo ENOTFOUND" at listen.
const hostLabel = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const isHostName = (host: string): boolean => {
  const labels = host.split(".");
  return host.length <= 253 && labels.every((label) => hostLabel.test(label)) && !/^\d+$/.test(labels.at(-1) ?? "");
};

/**
 * Whether a postgres:// URL says where to go: a host, or a database (in its path, or as `?dbname=` / `?database=`).
 * One with a host and no database is libpq's convention for the user's own database, and taken as such.
 */
const namesHostOrDatabase = (url: URL): boolean =>
  url.hostname !== "" ||
  url.pathname.replace(/^\/+/, "") !== "" ||
  url.searchParams.has("dbname") ||
  url.searchParams.has("database");

/**
 * One of `values`, written in any case (`INFO`, `Fifo`): none of them means anything else in capitals, and a refused
 * `LOG_LEVEL=INFO` stopped a start-up that had nothing wrong with it. The refusal says every spelling is taken.
 */
const anyCaseOf = <const T extends readonly [string, ...string[]]>(
  values: T,
  { example, lead = "" }: { example: T[number]; lead?: string },
) => {
  const listed = `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
  const error = `must be ${lead}${listed}, in any case (${example.toUpperCase()} is ${example})`;
  return z
    .string()
    .transform((value) => value.toLowerCase())
    .pipe(z.enum(values, { error }));
};

const envSchema = z.object({
  // 0: any free port (the tests' servers).
  PORT: wholeNumber({ fallback: 3000, min: 0, max: 65535 }),
  HOST: optionalString.pipe(
    z
      .string()
      .refine((host) => isIP(host) !== 0 || isHostName(host), {
        // Quoted when not plain, as other values are: "HOST two words is not …" read as a sentence.
        error: (issue) => `${shownValue(String(issue.input))} is not an IP address or a host name`,
      })
      .default("127.0.0.1"),
  ),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL" })
      // The driver would take it as written, and fail to open it with "Invalid URL", naming no part of it.
      .refine((url) => !/^postgres(ql)?:\/\//.test(url) || URL.canParse(url), {
        error:
          "must parse as a URL: a port is a number up to 65535, and @ : / ? # in a user name or password are written percent-encoded (%40 for @)",
      })
      // With neither a host nor a database in it (`postgres://`, or `postgres://$HOST/$DB` with both unset), the
      // driver connects to a default database on localhost, and Anvil makes its tables there: another program's.
      .refine((url) => !URL.canParse(url) || namesHostOrDatabase(new URL(url)), {
        error: "must name a host or a database (is a variable in it unset?), e.g. postgres://anvil@db-host:5432/anvil",
      })
      .optional(),
  ),
  DATA_DIR: optionalString.pipe(z.string().default("./data")),
  FORGE_URL: forgeUrls,
  // A token of only spaces would otherwise read as unset and silently turn sign-in off.
  API_TOKEN: z
    .string()
    .optional()
    .refine((s) => s === undefined || s === "" || s.trim() !== "", { error: "must not be only spaces" })
    .pipe(optionalString.pipe(z.string().min(8, { error: "must be at least 8 characters" }).optional())),
  /** The header a trusted sign-in proxy names the user in. */
  AUTH_PROXY_HEADER: optionalString.pipe(
    z
      .string()
      .regex(/^[A-Za-z0-9-]{1,100}$/, { error: "must be a header name, e.g. X-Forwarded-User" })
      .refine((name) => !["authorization", "cookie", "host"].includes(name.toLowerCase()), {
        error: "must name a header of its own, not Authorization, Cookie or Host",
      })
      .optional(),
  ),
  /** Origins besides Anvil's own whose pages may open a WebSocket with the session cookie. */
  ALLOWED_ORIGINS: optionalString.pipe(
    z
      .string()
      .transform((s) => s.split(",").map((origin) => origin.trim()))
      .pipe(
        z.array(
          z
            .url({ protocol: /^https?$/, error: urlRefusal("http(s)", "must be http(s) origins separated by commas") })
            .refine((url) => isOriginOnly(url), {
              error: "must be origins (scheme, host and port), without a path",
            })
            .transform((url) => new URL(url).origin),
        ),
      )
      .default([]),
  ),
  /** Queued jobs one user may have at once (0: no limit). */
  MAX_QUEUED_PER_USER: wholeNumber({ fallback: 200, min: 0, max: Number.MAX_SAFE_INTEGER }),
  /**
   * The longest one job may hold a GPU. At least a second: a few milliseconds (set by someone thinking in seconds)
   * time every job out as soon as it starts, each one's backend interrupted.
   */
  JOB_TIMEOUT_MS: milliseconds(600_000, 1_000, "at least 1000 (milliseconds; the default is 600000)"),
  /**
   * Cluster lease: how long a server's hold on its work lasts without renewal. Renewed four times within it, at
   * least 50 ms apart: a lease of a few milliseconds (set by someone thinking in seconds) runs out between renewals,
   * and the servers take it from each other without end; under a second, a pause of the event loop does the same.
   */
  // At most ten minutes: a longer lease leaves the cluster without a leader that long after a crash, and holds its
  // followers' forwarded calls twice that long (2 × LEASE_MS + 5 s) before they fail.
  LEASE_MS: wholeNumber({
    fallback: 10_000,
    min: 1_000,
    max: 600_000,
    floor: "at least 1000 (milliseconds; the default is 10000)",
  }),
  /** Cluster: where the other servers reach this one (default http://HOST:PORT). */
  CLUSTER_URL: optionalString.pipe(
    z
      .url({ protocol: /^http$/, error: urlRefusal("http", "must be an http:// URL") })
      // Followers reach the leader at its host and port alone: a path, query or credentials would be dropped unsaid.
      .refine((url) => isOriginOnly(url), {
        error: "must be http://host:port alone, without a path, query or credentials",
      })
      .optional(),
  ),
  /** On SIGTERM, how long running generations may go on to finish (0: interrupt them at once). */
  SHUTDOWN_GRACE_MS: milliseconds(25_000, 0),
  LOG_LEVEL: optionalString.pipe(
    anyCaseOf(["fatal", "error", "warn", "info", "debug", "trace", "silent"], {
      example: "info",
      lead: "one of ",
    }).default("info"),
  ),
  ANVIL_INSPECT: optionalString.pipe(anyCaseOf(["0", "1", "stately"], { example: "stately" }).optional()),
  SCHEDULING: optionalString.pipe(anyCaseOf(["fair", "fifo"], { example: "fifo" }).default("fair")),
  /** 1: with several backends a free GPU may take a job that needs the model it has loaded; 0: strictly the line. */
  MODEL_AFFINITY: optionalString.pipe(
    z
      .enum(["0", "1"], { error: "must be 0 or 1" })
      .default("1")
      .transform((value) => value === "1"),
  ),
  NODE_ENV: optionalString,
  ANVIL_SIMULATOR_STEP_MS: milliseconds(150, 1),
  /** Key of the X-Anvil-Signature HMAC of webhook deliveries; unset: unsigned. */
  WEBHOOK_SECRET: optionalString.pipe(z.string().min(16, { error: "must be at least 16 characters" }).optional()),
  /** For tests: the first webhook retry's delay (doubling from there); production keeps the default. */
  ANVIL_WEBHOOK_RETRY_MS: milliseconds(5_000, 1),
});

/** The server's validated configuration. */
export type Env = z.output<typeof envSchema>;

/** Variables whose value a start-up failure never prints: it would end up in logs. */
const SECRETS: ReadonlySet<string> = new Set(["API_TOKEN", "WEBHOOK_SECRET"]);

/**
 * A value as a failure line shows it: as is when it is plain, else quoted; a password hidden wherever a mistaken
 * value may carry one: a URL's (`scheme://user:***@`), one written without its scheme (`user:***@host`), and libpq's
 * keyword form (`password=***`).
 */
const shownValue = (value: string): string => {
  const hidden = value
    // Up to the last @: a password with an @ in it, not percent-encoded, is hidden whole.
    .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):\S*@/i, "$1:***@")
    .replace(/^([^\s:/@]*):(?!\/\/)[^\s@/]*@/, "$1:***@")
    .replace(/\b(password|passwd|pwd)(\s*=\s*)('[^']*'|"[^"]*"|[^\s&;]*)/gi, "$1$2***");
  return /^[\x21-\x7e]+$/.test(hidden) ? hidden : JSON.stringify(hidden);
};

/** Reads and validates the environment once; a bad value is one line naming the variable and (but a secret) the value. */
export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  return parsed(envSchema, source);
}

/** `npm run simulator`'s settings: where it listens (PORT 7860 as Forge, HOST) and how long a step takes. */
const simulatorEnvSchema = z.object({
  PORT: wholeNumber({ fallback: 7860, min: 0, max: 65535 }),
  HOST: envSchema.shape.HOST,
  ANVIL_SIMULATOR_STEP_MS: envSchema.shape.ANVIL_SIMULATOR_STEP_MS,
});

/** The standalone Forge simulator's settings, refused as {@link readEnv} refuses the server's. */
export function readSimulatorEnv(
  source: Record<string, string | undefined> = process.env,
): z.output<typeof simulatorEnvSchema> {
  return parsed(simulatorEnvSchema, source);
}

function parsed<T extends z.ZodType>(schema: T, source: Record<string, string | undefined>): z.output<T> {
  const result = schema.safeParse(source);
  if (result.success) return result.data;
  const [issue] = result.error.issues;
  if (issue === undefined) throw new Error("the environment was refused with no issue to name");
  const [name, index] = issue.path;
  const list = typeof name === "string" ? source[name] : undefined;
  // An item of a comma-separated list (FORGE_URL, ALLOWED_ORIGINS): named by its place when there are several.
  if (typeof index === "number" && issue.path.length === 2 && list !== undefined && !SECRETS.has(String(name))) {
    const items = list.split(",");
    const item = items[index]?.trim() ?? "";
    const shownItem = item === "" ? "(empty)" : shownValue(item);
    const which = items.length === 1 ? shownItem : `item ${index + 1} ${shownItem}`;
    throw new InvalidEnvironment(`${String(name)} ${which} ${issue.message}`);
  }
  const value = typeof name === "string" && issue.path.length === 1 ? source[name] : undefined;
  // Most messages name the value already ("PORT 70000 must be 0..65535"); the others get it here.
  const shown =
    value !== undefined && issue.message.startsWith("must") && !SECRETS.has(String(name))
      ? ` ${shownValue(value)}`
      : "";
  throw new InvalidEnvironment(`${issue.path.join(".")}${shown} ${issue.message}`);
}

/**
 * The start-up failure `error` as the variable to blame, or null when it is none's: an address HOST does not
 * name here, a PORT in use or not ours to bind, a DATA_DIR that is no folder or cannot be written.
 */
export function blameEnvironment(error: unknown, env: Pick<Env, "HOST" | "PORT">): InvalidEnvironment | null {
  if (error instanceof DataDirUnusable) return new InvalidEnvironment(error.message, { cause: error });
  const { code, syscall, hostname, port } = error as NodeJS.ErrnoException & { hostname?: string; port?: number };
  const blame = (problem: string, remedy = "", heading?: string) =>
    new InvalidEnvironment(`${problem} (${syscall} ${code})${remedy}`, { cause: error }, heading);
  // Only the failures of binding HOST:PORT: a DATABASE_URL or a FORGE_URL that does not resolve is no HOST's fault.
  if (syscall === "getaddrinfo" && hostname === env.HOST) {
    // ENOTFOUND: no such name; EAI_AGAIN and the like: the name server did not answer.
    return blame(
      `HOST ${env.HOST} ${code === "ENOTFOUND" ? "is not an address of this machine" : "could not be resolved"}`,
    );
  }
  // Node leaves the port out of the error when it is 0.
  if (syscall !== "listen" || (port ?? 0) !== env.PORT) return null;
  switch (code) {
    case "EADDRINUSE":
      // Often another Anvil, or this one's last run still stopping (a SIGTERM's grace lets running jobs finish).
      // PORT itself is valid: what is wrong is the process holding it, so the line does not call it invalid.
      return blame(
        `PORT ${env.PORT} is in use on ${env.HOST} by another process`,
        ": stop it, or set PORT to a free port",
        "Cannot start",
      );
    case "EACCES":
      return blame(`PORT ${env.PORT} may not be bound by this user`);
    case "EADDRNOTAVAIL":
    case "EAFNOSUPPORT":
      return blame(`HOST ${env.HOST} is not an address of this machine`);
    default:
      return null;
  }
}

/**
 * Binds HOST:PORT for a moment and lets go: what cannot listen there stops start-up before the database, the
 * simulator and the rest are started. Throws {@link InvalidEnvironment} naming HOST or PORT.
 */
export async function checkListenAddress(env: Pick<Env, "HOST" | "PORT">): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(env.PORT, env.HOST, () => resolve());
  }).catch((error: unknown) => {
    throw blameEnvironment(error, env) ?? error;
  });
  await new Promise((resolve) => probe.close(resolve));
}

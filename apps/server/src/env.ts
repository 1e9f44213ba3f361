import { normalizeBackendUrl } from "@anvil/forge-client";
import { z } from "zod";

const optionalString = z
  .string()
  .trim()
  .transform((s) => (s === "" ? undefined : s))
  .optional();

const forgeUrls = optionalString.pipe(
  z
    .string()
    .transform((s) => s.split(",").map((url) => url.trim().replace(/\/+$/, "")))
    .pipe(
      z
        .array(z.url({ protocol: /^https?$/, error: "must be http(s) URLs separated by commas" }))
        .min(1, { error: "must name at least one URL" })
        .superRefine((urls, ctx) => {
          // One Forge listed twice would count as two GPUs and run two generations at once on one card.
          const seen = new Set<string>();
          for (const url of urls) {
            const normal = normalizeBackendUrl(url);
            if (seen.has(normal)) ctx.addIssue({ code: "custom", message: `names ${normal} twice` });
            seen.add(normal);
          }
        }),
    )
    .optional(),
);

const positiveInt = (fallback: number) =>
  optionalString.pipe(
    z.coerce
      .number<string | undefined>({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .positive({ error: "must be positive" })
      .default(fallback),
  );

const nonNegativeInt = (fallback: number) =>
  optionalString.pipe(
    z.coerce
      .number<string | undefined>({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(0, { error: "must be 0 or more" })
      .default(fallback),
  );

const envSchema = z.object({
  PORT: optionalString.pipe(
    z.coerce
      .number<string | undefined>({ error: "must be a number" })
      .int({ error: "must be a whole number" })
      .min(0, { error: "must be 0..65535" })
      .max(65535, { error: "must be 0..65535" })
      .default(3000),
  ),
  HOST: optionalString.pipe(z.string().default("127.0.0.1")),
  DATABASE_URL: optionalString.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL" })
      .optional(),
  ),
  DATA_DIR: optionalString.pipe(z.string().default("./data")),
  FORGE_URL: forgeUrls,
  API_TOKEN: optionalString.pipe(z.string().min(8, { error: "must be at least 8 characters" }).optional()),
  JOB_TIMEOUT_MS: positiveInt(600_000),
  /** Cluster lease: how long a server's hold on its work lasts without renewal. */
  LEASE_MS: positiveInt(10_000),
  /** Cluster: where the other servers reach this one (default http://HOST:PORT). */
  CLUSTER_URL: optionalString.pipe(z.url({ protocol: /^http$/, error: "must be an http:// URL" }).optional()),
  /** On SIGTERM, how long running generations may go on to finish (0: interrupt them at once). */
  SHUTDOWN_GRACE_MS: nonNegativeInt(25_000),
  LOG_LEVEL: optionalString.pipe(
    z
      .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"], { error: "must be a pino level" })
      .default("info"),
  ),
  ANVIL_INSPECT: optionalString.pipe(z.enum(["0", "1", "stately"], { error: "must be 0, 1 or stately" }).optional()),
  NODE_ENV: optionalString,
  ANVIL_SIMULATOR_STEP_MS: positiveInt(150),
});

/** The server's validated configuration. */
export type Env = z.output<typeof envSchema>;

/** Reads and validates the environment once; a bad value is one line naming the variable. */
export function readEnv(source: Record<string, string | undefined> = process.env): Env {
  const result = envSchema.safeParse(source);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new Error(`Invalid environment: ${issue.path.join(".")} ${issue.message}`);
}

import { JOB_STATUSES } from "@anvil/job-machine";
import type { inferRouterOutputs } from "@trpc/server";
import { z } from "zod";
import type { AppRouter } from "../router";
import { debugOutputSchemas } from "./debug-output-schemas";

// The procedures' outputs are TypeScript types, not zod schemas; these describe them for /openapi.json. The check
// at the bottom binds the two: every output the router returns must be one these schemas accept, so a field that
// changes type or disappears fails the typecheck here, and openapi.integration.test.ts checks that real answers
// carry no field these schemas do not name.

const iso = z.iso.datetime({ offset: true }).describe("ISO-8601 time");
const nullableIso = iso.nullable();

/** A job (docs/API.md `Job`). */
export const jobOutput = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    messageId: z.uuid(),
    status: z.enum(JOB_STATUSES),
    queuePosition: z.number().int().min(0).describe("1 = next to get a GPU; 0 whenever the job is not queued"),
    progress: z.number().min(0).max(100),
    prompt: z.string(),
    params: z.object({
      negativePrompt: z.string(),
      width: z.number().int(),
      height: z.number().int(),
      steps: z.number().int(),
      cfgScale: z.number(),
      distilledCfgScale: z.number(),
      seed: z.number().int(),
      sampler: z.string(),
      scheduler: z.string().nullable(),
      checkpoint: z.string().nullable(),
      modules: z.array(z.string()),
    }),
    imageUrl: z.string().nullable().describe('path on this server, e.g. "/images/<id>.png"'),
    usedSeed: z.number().int().nullable(),
    error: z.string().nullable(),
    createdAt: iso,
    startedAt: nullableIso,
    finishedAt: nullableIso,
    owner: z.string().describe("the user who submitted it"),
    priority: z.number().int().min(-10).max(10),
    attempt: z.number().int().min(1),
    backend: z.string().nullable(),
    estimatedStartAt: nullableIso.describe(
      "while queued: when it is expected to get a GPU, from the GPU time of recent jobs of similar size and steps; null when nothing is known yet",
    ),
    estimatedFinishAt: nullableIso.describe("while queued or processing: when it is expected to end; null otherwise"),
    callbackUrl: z.string().nullable().describe("where its webhook goes when it ends, if anywhere"),
    cancelledBy: z
      .string()
      .nullable()
      .describe("who cancelled it: its owner, or an admin (another user's job); null unless it was cancelled"),
    movedBy: z
      .string()
      .nullable()
      .describe("who last moved it in the line (jobs.move): its owner, or an admin; null unless it was moved"),
  })
  .meta({ id: "Job" });

const conversation = z
  .object({
    id: z.uuid(),
    title: z.string(),
    createdAt: iso,
    owner: z.string().describe("the user it belongs to: the caller's own, or anyone's in an admin's list"),
  })
  .meta({ id: "Conversation" });
const message = z
  .object({
    id: z.uuid(),
    conversationId: z.uuid(),
    role: z.enum(["user", "assistant"]),
    content: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: iso,
  })
  .meta({ id: "Message" });
const queueStatus = z
  .object({
    queued: z.number().int(),
    processing: z.number().int(),
    paused: z.boolean().describe("while paused no job starts; running ones finish"),
    imagesNotStored: z
      .boolean()
      .describe(
        "a finished image cannot be stored (the images folder is full or unwritable): no job starts until it is, and the jobs done on their backend wait in processing to keep their image",
      ),
    serverStopping: z
      .boolean()
      .describe(
        "the server that starts jobs is stopping (a SIGTERM's grace): running jobs may finish, and no job starts until Anvil runs again (that server once restarted, or another server of the cluster)",
      ),
    backends: z.array(
      z.object({
        url: z.string(),
        busy: z.boolean(),
        jobId: z.uuid().nullable().describe("null for another user's job unless the caller is an admin"),
        healthy: z.boolean(),
        unavailable: z
          .enum(["unprobed", "busy-elsewhere", "unreachable"])
          .nullable()
          .describe(
            "why a backend that is not healthy takes no job: not asked yet (a server's first moment as leader), busy with a generation that is not this Anvil's (Forge's own UI, another client of its API), or not answering; null while healthy",
          ),
        stopping: z
          .boolean()
          .describe(
            "busy with no job of the line: one that ended (cancelled, timed out) while the backend is interrupted, or one another server left there",
          ),
        since: nullableIso,
        loadingModel: z
          .boolean()
          .describe(
            "its job sets up and loads its checkpoint on Forge (often 30–60 s for Flux): its progress stays near 0 meanwhile",
          ),
      }),
    ),
  })
  .meta({ id: "QueueStatus" });
const named = z.object({ name: z.string(), aliases: z.array(z.string()) });
const listedUser = z.object({ name: z.string(), admin: z.boolean(), createdAt: iso });

/** The output of every documented query and mutation, by path. */
export const outputSchemas = {
  health: z.object({
    ok: z.boolean(),
    database: z.enum(["pglite", "postgres"]),
    backends: z.array(z.object({ url: z.string(), healthy: z.boolean() })),
  }),
  "conversations.create": conversation,
  "conversations.get": conversation,
  "conversations.list": z.array(conversation),
  "conversations.rename": conversation,
  "conversations.delete": z.object({ id: z.uuid() }),
  "messages.list": z.array(message),
  "jobs.submit": jobOutput,
  "jobs.submitMany": z.array(jobOutput).describe("the jobs in input order, all accepted in one transaction"),
  "jobs.get": jobOutput,
  "jobs.list": z.object({ items: z.array(jobOutput), nextCursor: z.string().nullable() }),
  "jobs.cancel": jobOutput,
  "jobs.retry": jobOutput,
  "jobs.move": jobOutput,
  "jobs.cancelWaiting": z.object({
    jobIds: z.array(z.uuid()).describe("the jobs this call cancelled, in the order they would have started"),
  }),
  "queue.status": queueStatus,
  "queue.line": z.object({
    items: z.array(jobOutput).describe("the first `limit` waiting jobs, first to start first"),
    total: z.number().int().describe("how many waiting jobs the caller may see, in all"),
    users: z.number().int().describe("whose: how many users those jobs belong to"),
    version: z
      .number()
      .int()
      .describe("the line's version as read: line events whose `from` is at or past it hold the changes since"),
  }),
  "queue.pause": queueStatus,
  "queue.resume": queueStatus,
  "cluster.servers": z.object({
    servers: z
      .array(
        z.object({
          url: z.string().describe("where the other servers reach it (CLUSTER_URL)"),
          version: z.string().describe("Anvil's version it runs"),
          startedAt: iso.describe("ISO-8601 time, on the database's clock"),
          lastSeenAt: iso.describe("ISO-8601 time, on the database's clock; seen at least every 2.5 s"),
          leader: z.boolean().describe("it holds the cluster's lease: it drives the GPUs"),
          self: z.boolean().describe("it answered this call"),
          stopping: z
            .boolean()
            .describe(
              "it was asked to stop (SIGTERM, SIGINT): a leader finishes its generations (SHUTDOWN_GRACE_MS) first, " +
                "then hands over",
            ),
          answering: z
            .boolean()
            .describe(
              "it was seen within one and a half of its LEASE_MS; false for a server killed or cut off, which is " +
                "listed until three have gone by",
            ),
        }),
      )
      .describe("the live servers, the leader first; on the embedded database this server alone"),
  }),
  "users.create": z.object({
    name: z.string(),
    admin: z.boolean(),
    token: z.string().describe("shown this once; stored only as a hash"),
  }),
  "users.list": z.array(
    listedUser.extend({
      waiting: z
        .number()
        .int()
        .describe("how many of the user's jobs wait in the line now (status queued), counted as the one line is"),
    }),
  ),
  "users.update": listedUser.describe("the user as users.list shows them now"),
  "users.remove": z.object({ name: z.string() }),
  me: z.object({ name: z.string(), admin: z.boolean() }),
  "checkpoints.list": z.array(z.object({ title: z.string(), name: z.string() })),
  "checkpoints.modules": z.array(z.object({ name: z.string(), filename: z.string() })),
  "samplers.list": z.array(named),
  "schedulers.list": z.array(named),
  ...debugOutputSchemas,
} satisfies Record<string, z.ZodType>;

type At<T, P extends string> = P extends `${infer Head}.${infer Rest}`
  ? Head extends keyof T
    ? At<T[Head], Rest>
    : never
  : P extends keyof T
    ? T[P]
    : never;
type Outputs = inferRouterOutputs<AppRouter>;
type Schemas = typeof outputSchemas;
/** The paths whose real output the schema does not accept, or that the router does not have; `never` when none. */
type Rejected = {
  [P in keyof Schemas]: [At<Outputs, P>] extends [never] ? P : At<Outputs, P> extends z.output<Schemas[P]> ? never : P;
}[keyof Schemas];
// `true` only when nothing is rejected; otherwise the rejected paths alone, which `true` is not: the error names them.
// (A union of `true` and the paths would take `true` whatever the schemas said.)
const _everyOutputAccepted: [Rejected] extends [never] ? true : Rejected = true;

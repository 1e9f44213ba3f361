import { DEFAULT_JOB_PARAMS, JOB_STATUSES } from "@anvil/job-machine";
import { z } from "zod";
import { USER_NAME, USER_NAME_RULE } from "./caller";

// PostgreSQL rejects a NUL character in text and an unpaired UTF-16 surrogate in jsonb: without this check such a
// string passes validation and the insert fails with a 500.
const storable = (s: string) => !s.includes("\u0000") && !/\p{Cs}/u.test(s);
const storableText = (field: string) => ({ error: `${field} must not contain NUL characters or unpaired surrogates` });

// Blank is more than white space: zero-width and other invisible characters (format characters, default-ignorable
// code points, the Hangul fillers and the braille blank) show nothing either.
const INVISIBLE = /[\s\p{Cf}\p{Default_Ignorable_Code_Point}\u115F\u1160\u3164\uFFA0\u2800]/gu;
const visible = (s: string) => s.replace(INVISIBLE, "").length > 0;

/** The message for a field of the wrong type: "is missing" when it was not given at all. */
const mustBe = (field: string, what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `${field} is missing (it must be ${what})` : `${field} must be ${what}`;

/**
 * A field that names a user (a job's owner, a user to act on): a name a user can have ({@link USER_NAME}), so that a
 * name no user can have ("Ivan" for ivan) is told the rule rather than answered as a user with nothing.
 */
export const userNamed = (field: string) =>
  z.string({ error: mustBe(field, `a string of ${USER_NAME_RULE}`) }).regex(USER_NAME, {
    error: (issue) => {
      const given = String(issue.input);
      const lower = given.toLowerCase();
      // Names are lower case: a capital is the likeliest slip, and the name meant is then plain to say.
      const meant = lower !== given && USER_NAME.test(lower) ? ` (names are in lower case: ${lower})` : "";
      return `${field} must be ${USER_NAME_RULE}${meant}`;
    },
  });

/**
 * An id: a UUID in any case, read as the lower case Anvil makes and stores (PostgreSQL's uuid type ignores case, but
 * the live line, the event streams and what a client compares its ids with do not).
 */
export const uuid = (field: string) => z.uuid({ error: mustBe(field, "a UUID") }).toLowerCase();

/** `unknown field "x"` or `unknown fields "x", "y"`, followed by what the input does take. */
const unknownFields = (keys: readonly string[], taken: string): string =>
  `unknown field${keys.length === 1 ? "" : "s"} ${keys.map((key) => JSON.stringify(key)).join(", ")}; ${taken}`;

/**
 * An input object that refuses a field it does not know instead of dropping it: a misspelt `witdh`, or `width`
 * nested under a `params` the procedure does not take, would otherwise run with the default and no word of why.
 */
export const fieldsOf = <Shape extends z.ZodRawShape>(shape: Shape) => {
  const fields = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === "unrecognized_keys") return unknownFields(issue.keys, `the fields are ${fields}`);
      // Not an object at all (a number, null, an array; or no input): zod would say "expected object, received
      // number". The same words serve the input and a batch's job (`jobs.0: expected …`).
      if (issue.code === "invalid_type") {
        // No input at all, over HTTP most often one sent where it is not read (`?jobId=…` on a query's URL).
        const where =
          issue.input === undefined ? " (a query takes its input as ?input=<JSON>, a mutation as its JSON body)" : "";
        return `expected an object with the fields ${fields}; got ${kindOf(issue.input)}${where}`;
      }
      return undefined;
    },
  });
};

/** What a value that should have been an object is, in words. */
const kindOf = (value: unknown): string =>
  value === undefined
    ? "nothing"
    : value === null
      ? "null"
      : Array.isArray(value)
        ? "an array"
        : typeof value === "object"
          ? "an object"
          : `a ${typeof value}`;

/**
 * The input of a procedure that takes none: nothing, `null` or `{}`. Anything else is BAD_REQUEST (a field is never
 * dropped in silence: a client that sends one expects it to count).
 */
export const noInput = z
  .strictObject(
    {},
    {
      error: (issue) =>
        issue.code === "unrecognized_keys"
          ? unknownFields(issue.keys, "this procedure takes no input")
          : "this procedure takes no input",
    },
  )
  .nullish();

// The range first, and alone when it is out: zod's `int` also refuses a whole number too large to be exact
// (1e20), which would say "must be a whole number" of it beside the range.
const int = (field: string, min: number, max: number) =>
  z
    .number({ error: mustBe(field, "a number") })
    .min(min, { error: `${field} must be at least ${min}`, abort: true })
    .max(max, { error: `${field} must be at most ${max}`, abort: true })
    .int({ error: `${field} must be a whole number` });

// `multipleOf` rather than a refinement, so that /openapi.json says it too.
const dimension = (field: string) => int(field, 64, 2048).multipleOf(8, { error: `${field} must be a multiple of 8` });

/** A client's key for one request: the same key sent again returns what the first request made. */
const idempotencyKey = z
  .string({ error: "idempotencyKey must be a string" })
  .min(1, { error: "idempotencyKey must not be empty" })
  .max(200, { error: "idempotencyKey must be at most 200 characters" })
  .refine(storable, storableText("idempotencyKey"));

/** `jobs.submit` input, with the limits and defaults docs/API.md gives. */
export const submitJobInput = fieldsOf({
  prompt: z
    .string({ error: mustBe("prompt", "a string") })
    .min(1, { error: "prompt must not be empty", abort: true })
    .max(4000, { error: "prompt must be at most 4000 characters" })
    .refine(visible, { error: "prompt must not be blank" })
    .refine(storable, storableText("prompt"))
    // What /openapi.json can say of the two refinements: something besides white space (the check is stricter).
    .meta({ pattern: "\\S" }),
  negativePrompt: z
    .string({ error: "negativePrompt must be a string" })
    .max(4000, { error: "negativePrompt must be at most 4000 characters" })
    .refine(storable, storableText("negativePrompt"))
    .default(DEFAULT_JOB_PARAMS.negativePrompt),
  width: dimension("width").default(DEFAULT_JOB_PARAMS.width),
  height: dimension("height").default(DEFAULT_JOB_PARAMS.height),
  steps: int("steps", 1, 150).default(DEFAULT_JOB_PARAMS.steps),
  cfgScale: z
    .number({ error: "cfgScale must be a number" })
    .min(0, { error: "cfgScale must be at least 0" })
    .max(30, { error: "cfgScale must be at most 30" })
    .default(DEFAULT_JOB_PARAMS.cfgScale),
  distilledCfgScale: z
    .number({ error: "distilledCfgScale must be a number" })
    .min(0, { error: "distilledCfgScale must be at least 0" })
    .max(30, { error: "distilledCfgScale must be at most 30" })
    .default(DEFAULT_JOB_PARAMS.distilledCfgScale),
  seed: int("seed", -1, 4294967295).default(DEFAULT_JOB_PARAMS.seed),
  sampler: z
    .string({ error: "sampler must be a string" })
    .trim()
    .min(1, { error: "sampler must not be empty" })
    .max(100, { error: "sampler must be at most 100 characters" })
    .refine(storable, storableText("sampler"))
    .default(DEFAULT_JOB_PARAMS.sampler),
  scheduler: z
    .string({ error: "scheduler must be a string" })
    .trim()
    .min(1, { error: "scheduler must not be empty" })
    .max(100, { error: "scheduler must be at most 100 characters" })
    .refine(storable, storableText("scheduler"))
    .nullable()
    .default(DEFAULT_JOB_PARAMS.scheduler),
  checkpoint: z
    .string({ error: "checkpoint must be a string" })
    .min(1, { error: "checkpoint must not be empty" })
    .max(500, { error: "checkpoint must be at most 500 characters" })
    .refine(storable, storableText("checkpoint"))
    .nullable()
    .default(DEFAULT_JOB_PARAMS.checkpoint),
  modules: z
    .array(
      z
        .string({ error: "modules must be file names" })
        .min(1, { error: "modules must not contain an empty name" })
        .max(500, { error: "modules names must be at most 500 characters" })
        .refine(storable, storableText("modules")),
      { error: "modules must be a list of file names" },
    )
    .max(8, { error: "modules must name at most 8 files" })
    .default([]),
  conversationId: uuid("conversationId").optional(),
  priority: int("priority", -10, 10).default(0),
  idempotencyKey: idempotencyKey.optional(),
  callbackUrl: z
    .url({ protocol: /^https?$/, error: "callbackUrl must be an http or https URL" })
    .max(2000, { error: "callbackUrl must be at most 2000 characters" })
    .refine(storable, storableText("callbackUrl"))
    // fetch refuses a URL with credentials, so every delivery would fail (and log them): sign deliveries instead.
    .refine((url) => !/^https?:\/\/[^/?#]*@/i.test(url), {
      error: "callbackUrl must not carry a user name or password; deliveries are signed with WEBHOOK_SECRET instead",
    })
    // `format: uri` alone allows any scheme; the scheme is checked on the parsed URL, so in either case.
    .meta({ pattern: "^[Hh][Tt][Tt][Pp][Ss]?://" })
    // null is none, as a Job shows it: a client may send a job's own fields back.
    .nullable()
    .optional(),
});

/** A validated `jobs.submit` input. */
export type SubmitJobInput = z.output<typeof submitJobInput>;

/** The most jobs one `jobs.submitMany` may carry. */
export const MAX_SUBMIT_MANY = 1000;

/** `jobs.submitMany` input: each job as `jobs.submit` takes it; errors name the index (`jobs.3.prompt: …`). */
export const submitManyInput = fieldsOf({
  jobs: z
    .array(submitJobInput, { error: "jobs must be a list of jobs" })
    .min(1, { error: "jobs must hold at least 1 job" })
    .max(MAX_SUBMIT_MANY, { error: `jobs must hold at most ${MAX_SUBMIT_MANY} jobs` }),
});

/** `{ jobId }`. */
export const jobIdInput = fieldsOf({ jobId: uuid("jobId") });

/** `jobs.retry` input: the job, and a key that makes a resend return the new job it made instead of a second one. */
export const retryJobInput = fieldsOf({ jobId: uuid("jobId"), idempotencyKey: idempotencyKey.optional() });

/** `{ conversationId }`. */
export const conversationIdInput = fieldsOf({ conversationId: uuid("conversationId") });

const statusList = z
  .array(z.enum(JOB_STATUSES, { error: `status must be one of ${JOB_STATUSES.join(", ")}` }), {
    error: "status must be a list of statuses",
  })
  // An empty list matched no job: a filter built from an empty selection answered nothing, not everything.
  .min(1, { error: "status must name at least one status; leave it out for jobs of every status" });

/** `jobs.list` input. */
export const listJobsInput = fieldsOf({
  status: statusList.optional(),
  conversationId: uuid("conversationId").optional(),
  owner: userNamed("owner").optional(),
  limit: int("limit", 1, 500).default(50),
  cursor: z.string({ error: "cursor must be a string" }).max(100, { error: "cursor is not valid" }).optional(),
  order: z.enum(["oldest", "newest"], { error: "order must be oldest or newest" }).default("oldest"),
}).default({ limit: 50, order: "oldest" });

/** `conversations.create` input. */
export const createConversationInput = fieldsOf({
  title: z
    .string({ error: "title must be a string" })
    .trim()
    .max(200, { error: "title must be at most 200 characters" })
    .refine(storable, storableText("title"))
    .optional(),
}).default({});

/** `conversations.list` input: none for the whole list, or a page of it (newest first). */
export const listConversationsInput = fieldsOf({
  limit: int("limit", 1, 500),
  before: uuid("before").optional(),
}).optional();

/** `conversations.rename` input. */
export const renameConversationInput = fieldsOf({
  conversationId: uuid("conversationId"),
  title: z
    .string({ error: "title must be a string" })
    .trim()
    .min(1, { error: "title must not be empty" })
    .max(200, { error: "title must be at most 200 characters" })
    .refine(storable, storableText("title")),
});

/** A resume cursor: the id of the last event a client saw. */
export const eventCursor = z
  .string({ error: "lastEventId must be a string" })
  .regex(/^\d{1,15}(\.\d{1,15})?$/, { error: "lastEventId must be an event id this server sent" });

/** `jobs.events` input. */
export const jobEventsInput = fieldsOf({
  jobId: uuid("jobId").optional(),
  conversationId: uuid("conversationId").optional(),
  lastEventId: eventCursor.nullish(),
}).default({});

/** `jobs.move` input. */
export const moveJobInput = fieldsOf({
  jobId: uuid("jobId"),
  to: z.enum(["front", "back"], { error: 'to must be "front" or "back"' }),
  global: z.boolean({ error: "global must be true or false" }).default(false),
});

/** `queue.line` input: how many of the first waiting jobs to read. */
export const lineInput = fieldsOf({ limit: int("limit", 1, 500).default(200) }).default({ limit: 200 });

/**
 * `jobs.cancelWaiting` input: the caller's waiting jobs, of one conversation or all; `everyone` and `owner` are an
 * admin's. Each scope is one of its own: `owner` with another would leave unsaid which of them was meant.
 */
export const cancelWaitingInput = fieldsOf({
  conversationId: uuid("conversationId").optional(),
  everyone: z.boolean({ error: "everyone must be true or false" }).default(false),
  owner: userNamed("owner").optional(),
})
  .superRefine((input, ctx) => {
    if (input.owner === undefined) return;
    const other = input.everyone ? "everyone" : input.conversationId !== undefined ? "conversationId" : null;
    if (other === null) return;
    ctx.addIssue({
      code: "custom",
      path: ["owner"],
      message: `owner cannot be combined with ${other}: give one of owner, conversationId and everyone`,
    });
  })
  .default({ everyone: false });

/** `users.create` input. */
export const createUserInput = fieldsOf({
  name: userNamed("name"),
  admin: z.boolean({ error: "admin must be true or false" }).default(false),
});

/** `users.remove` input: every user's name is one {@link USER_NAME} takes (users.create and a proxy's alike). */
export const removeUserInput = fieldsOf({ name: userNamed("name") });

/** `users.update` input: whether the user is an admin, said every time (there is nothing else to change). */
export const updateUserInput = fieldsOf({
  name: userNamed("name"),
  admin: z.boolean({ error: "admin must be true or false" }),
});

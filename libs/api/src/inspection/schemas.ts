import { z } from "zod";
import { fieldsOf, uuid } from "../schemas";

const limit = z
  .number({ error: "limit must be a number" })
  .int({ error: "limit must be a whole number" })
  .min(1, { error: "limit must be at least 1" })
  .max(10_000, { error: "limit must be at most 10000" });

/** The default number of queue entries and actors a debug view lists. */
export const DEFAULT_DEBUG_LIMIT = 1_000;

/** `debug.scheduler` and `debug.actors` input: how many entries to list at most. */
export const debugListInput = fieldsOf({ limit: limit.default(DEFAULT_DEBUG_LIMIT) }).default({
  limit: DEFAULT_DEBUG_LIMIT,
});

/** `debug.timeline` input. */
export const timelineInput = fieldsOf({ jobId: uuid("jobId") });

/** `debug.inspect` input. */
export const inspectInput = fieldsOf({
  jobId: uuid("jobId").optional(),
  lastEventId: z
    .string({ error: "lastEventId must be a string" })
    .regex(/^([0-9a-f]{1,16}:)?\d{1,15}$/, { error: "lastEventId must be an inspection event id this server sent" })
    .nullish(),
}).default({});

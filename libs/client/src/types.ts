import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AnvilRouter } from "./router";

/** Every procedure's input, by path: `AnvilInputs["jobs"]["submit"]`. */
export type AnvilInputs = inferRouterInputs<AnvilRouter>;
/** Every procedure's output, by path: `AnvilOutputs["jobs"]["get"]`. */
export type AnvilOutputs = inferRouterOutputs<AnvilRouter>;

/** An image job (docs/API.md `Job`). */
export type Job = AnvilOutputs["jobs"]["get"];
/** Where a job is: `queued`, `processing`, `complete`, `error` or `cancelled`. */
export type JobStatus = Job["status"];
/** What `conversations.events` sends (docs/API.md): a conversation made or renamed, one deleted, or `reload`. */
export type ConversationEvent =
  AnvilOutputs["conversations"]["events"] extends AsyncIterable<{ data: infer Event }> ? Event : never;
/** What `jobs.submit` takes. */
export type SubmitInput = AnvilInputs["jobs"]["submit"];

const FINAL: ReadonlySet<JobStatus> = new Set(["complete", "error", "cancelled"]);

/** True once a job can change no more. */
export const isFinal = (job: Pick<Job, "status">): boolean => FINAL.has(job.status);

import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@anvil/api";
import type { LineEvent } from "@anvil/job-machine";

export type { LineEvent };

type Outputs = inferRouterOutputs<AppRouter>;
type Inputs = inferRouterInputs<AppRouter>;

/** An image job as the API sends it (docs/API.md `Job`). */
export type Job = Outputs["jobs"]["get"];
/** What `jobs.events` sends: a job snapshot, or (without a `jobId` filter) a compact change of the line. */
export type JobStreamEvent = Job | LineEvent;
/** The status of a job. */
export type JobStatus = Job["status"];
/** A conversation in the side list. */
export type Conversation = Outputs["conversations"]["list"][number];
/** What `conversations.events` sends: a conversation made or renamed (`saved`), one `deleted`, or `reload`. */
export type ConversationEvent =
  Outputs["conversations"]["events"] extends AsyncIterable<{ data: infer Event }> ? Event : never;
/** A message of a conversation; an image job's assistant message carries `metadata.jobId`. */
export type Message = Outputs["messages"]["list"][number];
/** The queue and the GPUs at a glance. */
export type QueueStatus = Outputs["queue"]["status"];
/** A checkpoint the backends can load. */
export type Checkpoint = Outputs["checkpoints"]["list"][number];
/** A VAE or text-encoder file a checkpoint may need beside it. */
export type SdModule = Outputs["checkpoints"]["modules"][number];
/** A sampler the backends offer. */
export type Sampler = Outputs["samplers"]["list"][number];
/** A scheduler the backends offer; `aliases[0]` is its label. */
export type Scheduler = Outputs["schedulers"]["list"][number];
/** What `jobs.submit` takes. */
export type SubmitInput = Inputs["jobs"]["submit"];

/** The job id an assistant message shows, if it is an image job's message. */
export const jobIdOf = (message: Message): string | undefined => {
  const id = (message.metadata as Record<string, unknown> | null | undefined)?.["jobId"];
  return typeof id === "string" ? id : undefined;
};

import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { JobParams } from "@anvil/job-machine";
import type { SubmitJobInput as StoredSubmission } from "@anvil/persistence";
import type { Caller } from "./caller";
import type { CheckpointCatalog } from "./checkpoint-catalog";
import { Invalid } from "./errors";
import type { SubmitJobInput } from "./schemas";

/** A validated `jobs.submit` input; `priority` defaults to 0. */
export type SubmitInput = Omit<SubmitJobInput, "priority"> & { priority?: number };

/** What a submission is checked against beyond its schema. */
export interface SubmissionChecks {
  checkpoints: CheckpointCatalog;
  /** Why a URL may not be a `callbackUrl`, or null (see `JobServiceSettings.callbackRefusal`). */
  callbackRefusal?: ((url: URL) => string | null | Promise<string | null>) | undefined;
}

type Names = Pick<JobParams, "checkpoint" | "modules" | "sampler" | "scheduler">;

/**
 * Checkpoint, modules, sampler and scheduler as the backends name them; an unknown one is BAD_REQUEST. While no
 * backend has ever answered they are taken as given, to be resolved at dispatch.
 */
const resolveNames = async (checkpoints: CheckpointCatalog, params: Names): Promise<Names> => {
  if (params.checkpoint === null && params.modules.length > 0) {
    // Forge takes modules as an override beside a checkpoint; alone they would be silently dropped.
    throw new Invalid({ field: "modules", message: "modules must come with a checkpoint" });
  }
  return {
    ...(await checkpoints.resolveModel(params)),
    // Forge always has its default sampler: a job that keeps the defaults needs no backend to be accepted.
    sampler:
      params.sampler === DEFAULT_JOB_PARAMS.sampler ? params.sampler : await checkpoints.resolveSampler(params.sampler),
    scheduler: await checkpoints.resolveScheduler(params.scheduler),
  };
};

/**
 * `by`'s submission as it is stored: names resolved as the backends list them, the callback checked, the
 * conversation required to be `by`'s own unless `by` is an admin.
 */
export const toStoredSubmission = async (
  input: SubmitInput,
  by: Caller,
  { checkpoints, callbackRefusal }: SubmissionChecks,
): Promise<StoredSubmission> => {
  const { prompt, conversationId, idempotencyKey, priority, callbackUrl, ...rest } = input;
  // A server that calls itself back would feed its own API with job JSON, at best a loop of errors; one that calls a
  // backend would let anyone who submits drive (or interrupt) the GPUs outside the queue.
  const refusal = callbackUrl == null ? null : ((await callbackRefusal?.(new URL(callbackUrl))) ?? null);
  if (refusal !== null) throw new Invalid({ field: "callbackUrl", message: refusal });
  const params: JobParams = { ...rest, ...(await resolveNames(checkpoints, rest)) };
  return {
    prompt,
    params,
    owner: by.name,
    priority: priority ?? 0,
    conversationOwner: by.name,
    ...(conversationId ? { conversationId } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
    ...(callbackUrl ? { callbackUrl } : {}),
  };
};

/** {@link toStoredSubmission} for each of a batch, in order; a refusal names the job by its index. */
export const toStoredSubmissions = async (
  inputs: readonly SubmitInput[],
  by: Caller,
  checks: SubmissionChecks,
): Promise<StoredSubmission[]> => {
  const stored: StoredSubmission[] = [];
  for (const [i, input] of inputs.entries()) {
    stored.push(
      await toStoredSubmission(input, by, checks).catch((error: unknown) => {
        throw error instanceof Invalid
          ? new Invalid({ field: `jobs.${i}.${error.field}`, message: `jobs.${i}.${error.field}: ${error.message}` })
          : error;
      }),
    );
  }
  return stored;
};

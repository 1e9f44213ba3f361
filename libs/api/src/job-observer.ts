import type { GenerateRequest, Job, JobStatus } from "@anvil/job-machine";
import type { DeletedJob } from "@anvil/persistence";
import type { GenerationFailure } from "./generate";

/** A status change as it was persisted: `from` is the status the job's row left. */
export interface ObservedTransition {
  jobId: string;
  from: JobStatus;
  to: JobStatus;
  /** The backend the job ran on (or was assigned), null when it never got one. */
  backend: number | null;
  attempt: number;
}

/**
 * Watches the job service for metrics and logs. Every method is called synchronously after the fact (a status
 * change after it was persisted and published), must be cheap, and may throw without harming the service.
 */
export interface JobServiceObserver {
  /** A new job was accepted and queued (not called when an idempotency key returns an existing job). */
  submitted?(job: Job): void;
  /** A job's status changed. */
  transition?(change: ObservedTransition, job: Job): void;
  /** A generation failed on its backend; `error` is what the backend call failed with (a ForgeError from Forge). */
  generationFailed?(request: GenerateRequest, error: GenerationFailure): void;
  /** Jobs were deleted for good with their conversation (each had ended: `status` is how). */
  deleted?(jobs: readonly DeletedJob[]): void;
}

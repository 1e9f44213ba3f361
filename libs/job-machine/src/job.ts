/** Every status an image job can be in. */
export const JOB_STATUSES = ["queued", "processing", "complete", "error", "cancelled"] as const;

/** The status of an image job. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses nothing ever leaves. */
export const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(["complete", "error", "cancelled"]);

/** True when no transition can leave `status`. */
export const isFinalStatus = (status: JobStatus): boolean => FINAL_STATUSES.has(status);

/** The generation parameters of a job, with every default filled in. */
export interface JobParams {
  negativePrompt: string;
  width: number;
  height: number;
  steps: number;
  cfgScale: number;
  /** Flux's distilled guidance (Forge's `distilled_cfg_scale`); other models ignore it. */
  distilledCfgScale: number;
  seed: number;
  sampler: string;
  /** A scheduler name or label the backend lists; null leaves the choice to Forge. */
  scheduler: string | null;
  checkpoint: string | null;
  /** VAE / text-encoder files the checkpoint needs beside it (Forge's `forge_additional_modules`). */
  modules: string[];
}

/** The generation parameters a job gets for whatever `jobs.submit` leaves out (docs/API.md `Job`). */
export const DEFAULT_JOB_PARAMS: Readonly<JobParams> = {
  negativePrompt: "",
  width: 1024,
  height: 1024,
  steps: 20,
  cfgScale: 1,
  distilledCfgScale: 3.5,
  seed: -1,
  sampler: "Euler",
  scheduler: null,
  checkpoint: null,
  modules: [],
};

/** A job's stored params with today's defaults for what older rows lack (params are kept as JSON). */
export const withDefaultParams = (stored: Partial<JobParams>): JobParams => ({ ...DEFAULT_JOB_PARAMS, ...stored });

/** An image job as the API shows it (docs/API.md `Job`). */
export interface Job {
  id: string;
  conversationId: string;
  messageId: string;
  status: JobStatus;
  queuePosition: number;
  progress: number;
  prompt: string;
  params: JobParams;
  imageUrl: string | null;
  usedSeed: number | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** The user who submitted it. */
  owner: string;
  /** -10..10: orders its owner's own waiting jobs (higher first). */
  priority: number;
  /** 1 for a first run; counts up when the job is run again (a restart, a lost backend). */
  attempt: number;
  /** The URL of the backend the job runs or ran on; null before it first started. */
  backend: string | null;
  /** While queued: when it is expected to get a GPU (see projection.ts); null when nothing is known yet. */
  estimatedStartAt: string | null;
  /** While queued or processing: when it is expected to end; null when nothing is known (and once it ended). */
  estimatedFinishAt: string | null;
  /** Where the job's webhook goes when it ends; null for none. */
  callbackUrl: string | null;
  /** Who cancelled it: its owner, or an admin (another user's job); null unless it was cancelled by someone. */
  cancelledBy: string | null;
  /** Who last moved it in the line (`jobs.move`): its owner, or an admin; null unless it was moved. */
  movedBy: string | null;
}

/** A job's two estimates (ISO-8601), as `Job` carries them. */
export type JobEstimates = Pick<Job, "estimatedStartAt" | "estimatedFinishAt">;

/** What a job shows while nothing is known of when it starts or ends (and once it ended). */
export const NO_ESTIMATES: Readonly<JobEstimates> = { estimatedStartAt: null, estimatedFinishAt: null };

/** What the backend is asked to make for one attempt of a job. */
export interface GenerateRequest {
  jobId: string;
  prompt: string;
  params: JobParams;
  /** 1 for the first run; a job re-run after a crash counts up to the attempt limit. */
  attempt: number;
  /** Index of the backend (GPU) this attempt holds. */
  backend: number;
}

/** What a finished generation produced. */
export interface GenerateResult {
  imageUrl: string;
  usedSeed: number;
}

/**
 * A generation's failure that is the backend's, not the job's: the backend went away (its connection and its
 * probes fail). The job goes back to the front of the line for another backend, as its next attempt.
 */
export class BackendLost extends Error {
  readonly _tag = "BackendLost";
  constructor(message: string) {
    super(message);
    this.name = "BackendLost";
  }
}

/** True for a {@link BackendLost}, whichever copy of this module made it. */
export const isBackendLost = (error: unknown): error is BackendLost =>
  typeof error === "object" && error !== null && (error as { _tag?: unknown })._tag === "BackendLost";

/** Reads the time in epoch ms: the host's clock (`Date.now` by default), a fake one in tests. */
export type Clock = () => number;

/** How many times a job may be started before a lost backend or a crash mid-run ends it in error. */
export const MAX_ATTEMPTS = 3;

/** One image to generate, in Anvil's terms. */
export interface Txt2ImgRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly cfgScale: number;
  /** Flux's distilled guidance (Forge's `distilled_cfg_scale`, its default 3.5); other models ignore it. */
  readonly distilledCfgScale?: number | undefined;
  /** -1 lets the backend pick a random seed. */
  readonly seed: number;
  readonly sampler: string;
  /** A scheduler name or label from `schedulers()`; null or undefined for Forge's own choice. */
  readonly scheduler?: string | null | undefined;
  /** A checkpoint title from `sdModels()`, or null for whatever the backend has loaded. */
  readonly checkpoint: string | null;
  /**
   * VAE / text-encoder files (the file names of `sdModules()`'s `filename`s, or the paths) a checkpoint needs beside
   * it, as Forge's `forge_additional_modules`, which keeps each one's base name; sent with a checkpoint only.
   */
  readonly modules?: readonly string[] | undefined;
}

/** What a generated image is encoded as: PNG, or what Forge's `samples_format` setting makes it. */
export type ImageFormat = "png" | "jpeg" | "webp";

/** A finished generation. */
export interface GenerationResult {
  /** The first image, decoded from base64 (PNG unless Forge's `samples_format` says otherwise: see `format`). */
  readonly png: Uint8Array;
  /** The image's encoding, read from its bytes. */
  readonly format: ImageFormat;
  /** The seed the backend actually used (the request's may be -1). */
  readonly seed: number;
  /** Forge's `info`, parsed from its JSON string. */
  readonly info: Record<string, unknown>;
}

/** What `txt2img` returns: the same as a generation's result. */
export type Txt2ImgResult = GenerationResult;

/** The backend's progress; it describes whatever is running, not a chosen request. */
export interface ForgeProgress {
  /** 0..1 */
  readonly progress: number;
  readonly etaRelativeSeconds: number;
  /** True while a job sets up, loads its model or runs (`state.job_count !== 0`; -1 while loading). */
  readonly busy: boolean;
  /** True while a job sets up and loads its model (`job_count === -1`); an interrupt cannot cut this short. */
  readonly loading: boolean;
  readonly jobCount: number;
  readonly samplingStep: number;
  readonly samplingSteps: number;
  /** Set by an interrupt, and kept after the job until the next one begins. */
  readonly interrupted: boolean;
  /** Set by Skip, kept like `interrupted`. */
  readonly skipped: boolean;
  /** `stopping_generation`: stop after the current image (a job stopped before sampling then has none). */
  readonly stopping?: boolean;
  /**
   * What runs (`state.job`): `scripts_txt2img` for a txt2img through the API, `scripts_img2img` for an img2img
   * through it, `extras` for an upscale (from the API or the UI), a `task(…)` id for a job started in Forge's own
   * UI, empty while idle; null from a build that does not say.
   */
  readonly job: string | null;
  /**
   * `state.job_timestamp`: when the job last begun began, to the second ("20261205013000"), kept while idle; null
   * from a build that does not say. A different value than a job's own means another job has begun since.
   */
  readonly jobTimestamp?: string | null;
}

/** A checkpoint as `/sdapi/v1/sd-models` lists it; `title` is what `sd_model_checkpoint` takes. */
export interface SdModel {
  readonly title: string;
  readonly modelName: string;
  readonly hash: string | null;
  readonly sha256: string | null;
  readonly filename: string;
}

/** A sampler or scheduler: txt2img takes its name or any alias (a scheduler's label is one). */
export interface NamedItem {
  readonly name: string;
  readonly aliases: readonly string[];
}

/** A VAE or text-encoder file as `/sdapi/v1/sd-modules` lists it. */
export interface SdModule {
  readonly name: string;
  /** Where the backend keeps it; `forge_additional_modules` takes its file name (Forge looks it up by that). */
  readonly filename: string;
}

/** One image to generate, in Anvil's terms. */
export interface Txt2ImgRequest {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly cfgScale: number;
  /** -1 lets the backend pick a random seed. */
  readonly seed: number;
  readonly sampler: string;
  readonly scheduler?: string | undefined;
  /** A checkpoint title from `sdModels()`, or null for whatever the backend has loaded. */
  readonly checkpoint: string | null;
}

/** A finished generation. */
export interface GenerationResult {
  /** The first image, decoded from base64. */
  readonly png: Uint8Array;
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
  /** True while a job runs (`state.job_count > 0`). */
  readonly busy: boolean;
  readonly jobCount: number;
  readonly samplingStep: number;
  readonly samplingSteps: number;
  readonly interrupted: boolean;
}

/** A checkpoint as `/sdapi/v1/sd-models` lists it; `title` is what `sd_model_checkpoint` takes. */
export interface SdModel {
  readonly title: string;
  readonly modelName: string;
  readonly hash: string | null;
  readonly sha256: string | null;
  readonly filename: string;
}

/** A sampler or scheduler. */
export interface NamedItem {
  readonly name: string;
}

import { createHash } from "node:crypto";

/** A checkpoint as `/sdapi/v1/sd-models` lists it. */
export interface SimulatedModel {
  readonly title: string;
  readonly model_name: string;
  readonly hash: string;
  /** Null when Forge has not hashed the file yet (no cache entry): then its title has no " [shorthash]". */
  readonly sha256: string | null;
  readonly filename: string;
  readonly config: null;
}

/** The checkpoints a simulator offers unless told otherwise. */
export const DEFAULT_MODELS = ["flux1-dev", "flux1-schnell", "sdxl-base-1.0"];

/** The first 10 hex digits of the file's SHA-256, Forge's `shorthash` (which a load computes if it is missing). */
export const shortHash = (name: string): string => createHash("sha256").update(name).digest("hex").slice(0, 10);

/**
 * Builds Forge's listing for a model name such as "flux1-dev". `hashed` false acts out a file whose SHA-256 Forge
 * has not cached (sd_models.py): titled by its file name alone, with the old 8-digit `hash`.
 */
export const simulatedModel = (name: string, hashed = true): SimulatedModel => {
  const sha256 = createHash("sha256").update(name).digest("hex");
  const file = `${name}.safetensors`;
  const hash = hashed ? shortHash(name) : createHash("sha256").update(`old:${name}`).digest("hex").slice(0, 8);
  return {
    title: hashed ? `${file} [${hash}]` : file,
    model_name: name,
    hash,
    sha256: hashed ? sha256 : null,
    filename: `/models/Stable-diffusion/${file}`,
    config: null,
  };
};

/**
 * Forge's lookup of a checkpoint setting (`checkpoint_aliases`): title, name, file name, "file [hash]"; "file
 * [shorthash]" only once the file's SHA-256 is cached. Anything else matches nothing.
 */
export const matchModel = (models: readonly SimulatedModel[], wanted: string): SimulatedModel | undefined =>
  models.find(
    (m) =>
      m.title === wanted ||
      m.model_name === wanted ||
      m.filename.endsWith(`/${wanted}`) ||
      `${m.model_name}.safetensors` === wanted ||
      `${m.model_name}.safetensors [${m.hash}]` === wanted,
  );

/** A VAE or text encoder as `/sdapi/v1/sd-modules` lists it. */
export interface SimulatedModule {
  readonly model_name: string;
  readonly filename: string;
}

/** The modules a simulator offers unless told otherwise: what a Flux UNet-only checkpoint needs. */
export const DEFAULT_MODULES = ["ae.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors"];

/** Builds Forge's listing for a module file name. */
export const simulatedModule = (file: string): SimulatedModule => ({
  model_name: file,
  filename: `/models/${file.startsWith("ae") ? "VAE" : "text_encoder"}/${file}`,
});

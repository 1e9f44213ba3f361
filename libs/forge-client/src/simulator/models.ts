import { createHash } from "node:crypto";

/** A checkpoint as `/sdapi/v1/sd-models` lists it. */
export interface SimulatedModel {
  readonly title: string;
  readonly model_name: string;
  /** Forge's `shorthash`; null, as `sha256`, while Forge has not hashed the file (modules/api/api.py lists it so). */
  readonly hash: string | null;
  /** Null when Forge has not hashed the file yet (no cache entry): then its title has no " [shorthash]". */
  readonly sha256: string | null;
  readonly filename: string;
  readonly config: null;
}

/** The checkpoints a simulator offers unless told otherwise. */
export const DEFAULT_MODELS = ["flux1-dev", "flux1-schnell", "sdxl-base-1.0"];

/** The first 10 hex digits of the file's SHA-256, Forge's `shorthash` (which a load computes if it is missing). */
export const shortHash = (name: string): string => createHash("sha256").update(name).digest("hex").slice(0, 10);

/** Forge's old 8-digit `model_hash` of a file (read from its contents at once, no cache): a name Forge takes too. */
const oldHash = (name: string): string => createHash("sha256").update(`old:${name}`).digest("hex").slice(0, 8);

/**
 * Builds Forge's listing for a model name such as "flux1-dev". `hashed` false acts out a file whose SHA-256 Forge
 * has not cached (sd_models.py): titled by its file name alone, with no `hash` or `sha256`.
 */
export const simulatedModel = (name: string, hashed = true): SimulatedModel => {
  const sha256 = createHash("sha256").update(name).digest("hex");
  const file = `${name}.safetensors`;
  const hash = hashed ? shortHash(name) : null;
  return {
    title: hash === null ? file : `${file} [${hash}]`,
    model_name: name,
    hash,
    sha256: hashed ? sha256 : null,
    filename: `/models/Stable-diffusion/${file}`,
    config: null,
  };
};

/**
 * Forge's lookup of a checkpoint setting: one of its `CheckpointInfo.ids` (sd_models.py), for a file right in the
 * models folder: the old hash, the model name, the title, the file name, the file name without its extension and
 * "file [old hash]"; once the file's SHA-256 is cached, also the short hash, the SHA-256, "file [shorthash]" and
 * "name [shorthash]". Anything else (a path, a name with another hash) matches nothing.
 */
export const matchModel = (models: readonly SimulatedModel[], wanted: string): SimulatedModel | undefined =>
  models.find((m) => {
    const file = `${m.model_name}.safetensors`;
    const old = oldHash(m.model_name);
    const ids = [old, m.model_name, m.title, file, `${file} [${old}]`];
    if (m.hash !== null && m.sha256 !== null) {
      ids.push(m.hash, m.sha256, `${file} [${m.hash}]`, `${m.model_name} [${m.hash}]`);
    }
    return ids.includes(wanted);
  });

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

import type { SdModel } from "./types";

/** The titles `sd_model_checkpoint` accepts, e.g. "flux1-dev.safetensors [abc123]". */
export const checkpointTitles = (models: readonly SdModel[]): string[] => models.map((model) => model.title);

/** The file name at the end of a path, with either kind of slash (Forge may run on Windows). */
export const baseName = (path: string): string => path.split(/[\\/]/).pop() ?? path;
const withoutExtension = (name: string): string => name.replace(/\.(safetensors|ckpt|pt|pth|gguf|bin)$/i, "");
const withoutHash = (title: string): string => title.replace(/\s*\[[0-9a-f]+\]$/i, "");

/**
 * What to send as `sd_model_checkpoint` for a title: its file name without the " [hash]". Forge knows "name
 * [shorthash]" only where it has the file's hash cached (sd_models.py), and silently drops an override it does not
 * know; the file name it always knows.
 */
export const checkpointSetting = (title: string): string => withoutHash(title.trim());

/**
 * Several backends' checkpoints as one list, each file once. Forge adds the short hash to a file's title when it first
 * hashes the file (a load does), so one backend may list "x.safetensors [abc]" while another still lists
 * "x.safetensors": the title with its hash is kept, since it also tells which file made an image (`madeWith`).
 */
export const mergeCheckpoints = (models: readonly SdModel[]): SdModel[] => {
  const byFile = new Map<string, SdModel>();
  for (const model of models) {
    const key = checkpointSetting(model.title);
    const seen = byFile.get(key);
    if (!seen || (seen.title === key && model.title !== key)) byFile.set(key, model);
  }
  return [...byFile.values()];
};

/**
 * The model a user's name refers to: its title, model name, file name, or either without extension or hash.
 * Forge silently ignores an unknown `sd_model_checkpoint`, so names must be resolved before sending.
 */
export const findCheckpoint = (models: readonly SdModel[], name: string): SdModel | undefined => {
  const wanted = name.trim();
  const keys = (model: SdModel): string[] => {
    const file = baseName(model.filename);
    return [model.title, model.modelName, file, withoutExtension(file), withoutExtension(withoutHash(model.title))];
  };
  return (
    models.find((model) => model.title === wanted) ??
    models.find((model) => keys(model).includes(wanted)) ??
    models.find((model) => keys(model).some((key) => key.toLowerCase() === wanted.toLowerCase()))
  );
};

/**
 * Whether Forge's `info` says the image was made with the checkpoint `title` ("name.safetensors [hash]"): by the
 * short hash when both carry one, else by the model name. An info without either is given the benefit of the doubt.
 */
export const madeWith = (info: Record<string, unknown>, title: string): boolean => {
  const wantedHash = /\[([0-9a-f]+)\]$/i.exec(title.trim())?.[1]?.toLowerCase();
  const hash = typeof info["sd_model_hash"] === "string" ? info["sd_model_hash"].toLowerCase() : "";
  if (wantedHash && hash) return hash.startsWith(wantedHash) || wantedHash.startsWith(hash);
  const name = typeof info["sd_model_name"] === "string" ? info["sd_model_name"] : "";
  if (!name) return true;
  return withoutExtension(baseName(withoutHash(title.trim()))).toLowerCase() === withoutExtension(name).toLowerCase();
};

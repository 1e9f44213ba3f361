// No imports: the web app bundles this file alone (its /inspect page names models the same way).

const withoutHash = (title: string): string => title.trim().replace(/\s*\[[0-9a-f]+\]$/i, "");
const fileOf = (path: string): string => path.split(/[\\/]/).pop() ?? path;

/**
 * Which model a checkpoint and its modules make, whatever names them: Forge's options keep the string they were set
 * to, a checkpoint's title with or without its short hash (Forge adds the hash to a title once it first hashes the
 * file), and its modules as full paths in any order (Forge compares their file names, sorted). Two names of one
 * model give one key.
 */
export const modelKey = (checkpoint: string, modules: readonly string[]): string =>
  [withoutHash(checkpoint), ...modules.map(fileOf).sort()].join(" + ");

/** A model as people name it: "flux1-dev" for "flux1-dev.safetensors [1a2b3c4d5e] + ae.safetensors". */
export const modelName = (model: string): string => {
  return fileOf(withoutHash(model.split(" + ")[0] ?? model)).replace(/\.(safetensors|ckpt|pt|pth|gguf|bin)$/i, "");
};

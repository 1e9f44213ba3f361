// No imports: the web app bundles this file alone (its /inspect page names models the same way).

/** A model as people name it: "flux1-dev" for "flux1-dev.safetensors [1a2b3c4d5e] + ae.safetensors". */
export const modelName = (model: string): string => {
  const checkpoint = model.split(" + ")[0] ?? model;
  const file =
    checkpoint
      .replace(/\s*\[[0-9a-f]+\]$/i, "")
      .split(/[\\/]/)
      .pop() ?? checkpoint;
  return file.replace(/\.(safetensors|ckpt|pt|pth|gguf|bin)$/i, "");
};

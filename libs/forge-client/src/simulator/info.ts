import type { Txt2ImgParams } from "./faults";
import { shortHash, type SimulatedModel } from "./models";

/** Forge's txt2img `info`: a JSON *string*, with the used seed and an A1111-style infotext. */
export const generationInfo = (p: Txt2ImgParams, seed: number, model: SimulatedModel): string => {
  const infotext =
    `${p.prompt}\nNegative prompt: ${p.negativePrompt}\nSteps: ${p.steps}, Sampler: ${p.sampler}, ` +
    `Schedule type: ${p.scheduler}, CFG scale: ${p.cfgScale}, Seed: ${seed}, Size: ${p.width}x${p.height}, ` +
    `Model hash: ${shortHash(model.model_name)}, Model: ${model.model_name}`;
  return JSON.stringify({
    prompt: p.prompt,
    all_prompts: [p.prompt],
    negative_prompt: p.negativePrompt,
    seed,
    all_seeds: [seed],
    subseed: 0,
    width: p.width,
    height: p.height,
    sampler_name: p.sampler,
    cfg_scale: p.cfgScale,
    steps: p.steps,
    batch_size: 1,
    sd_model_name: model.model_name,
    // Forge's load computes the shorthash (`calculate_shorthash`) when the file was not hashed before.
    sd_model_hash: shortHash(model.model_name),
    infotexts: [infotext],
  });
};

import type { Txt2ImgRequest } from "../types";

/** A small txt2img request for tests, with `overrides` on top. */
export const request = (overrides: Partial<Txt2ImgRequest> = {}): Txt2ImgRequest => ({
  prompt: "a lighthouse at dusk",
  negativePrompt: "",
  width: 64,
  height: 48,
  steps: 10,
  cfgScale: 1,
  seed: -1,
  sampler: "Euler",
  checkpoint: null,
  ...overrides,
});

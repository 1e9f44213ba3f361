import type { Job } from "./types";

/** A job as the API would send it, for tests; `overrides` set whatever the test is about. */
export const makeJob = (overrides: Partial<Job> = {}): Job => ({
  id: "7d3c9f0e-5b7a-4c1e-9a51-0d6f5b1e2a10",
  conversationId: "0b8f4a5e-2c1d-4e6f-8a9b-1c2d3e4f5a6b",
  messageId: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
  status: "queued",
  queuePosition: 3,
  progress: 0,
  prompt: "a lighthouse at dusk",
  params: {
    negativePrompt: "",
    width: 832,
    height: 1216,
    steps: 20,
    cfgScale: 1,
    distilledCfgScale: 3.5,
    seed: -1,
    sampler: "Euler",
    scheduler: null,
    checkpoint: null,
    modules: [],
  },
  imageUrl: null,
  usedSeed: null,
  error: null,
  createdAt: "2025-01-01T10:00:00.000Z",
  startedAt: null,
  finishedAt: null,
  attempt: 1,
  backend: null,
  ...overrides,
});

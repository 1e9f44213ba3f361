import { IDLE_PROGRESS } from "@anvil/forge-client";
import type { ForgeClient } from "@anvil/forge-client";
import { Effect } from "effect";

// A 1×1 PNG: an instantly answering backend still returns a real image.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

/** A backend that answers every call at once, to measure Anvil's own overhead. */
export const instantForge = (): ForgeClient => ({
  baseUrl: "instant://",
  txt2img: () => Effect.succeed({ png: PNG, format: "png", seed: 1, info: {} }),
  generate: () => Effect.succeed({ png: PNG, format: "png", seed: 1, info: {} }),
  abandonStops: () => undefined,
  progress: () => Effect.succeed(IDLE_PROGRESS),
  interrupt: () => Effect.void,
  sdModels: () => Effect.succeed([]),
  refreshCheckpoints: () => Effect.void,
  sdModules: () => Effect.succeed([]),
  samplers: () => Effect.succeed([{ name: "Euler", aliases: [] }]),
  schedulers: () => Effect.succeed([{ name: "simple", aliases: ["Simple"] }]),
  options: () => Effect.succeed({}),
  setOptions: () => Effect.void,
});

import { Effect } from "effect";
import { ForgeError } from "./errors";
import type { ForgeProgress, GenerationResult, NamedItem, SdModel, Txt2ImgRequest } from "./types";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const num = (value: unknown, fallback = 0): number =>
  typeof value === "number" && Number.isFinite(value) ? value : fallback;

const optionalString = (value: unknown): string | null => (typeof value === "string" ? value : null);

const badResponse = (backendUrl: string, what: string, cause: unknown): ForgeError =>
  new ForgeError({ reason: "BadResponse", message: `Forge sent an unexpected ${what}`, backendUrl, cause });

/** Anvil's request as Forge's txt2img JSON. */
export const toForgeTxt2Img = (req: Txt2ImgRequest): Json => ({
  prompt: req.prompt,
  negative_prompt: req.negativePrompt,
  width: req.width,
  height: req.height,
  steps: req.steps,
  cfg_scale: req.cfgScale,
  seed: req.seed,
  sampler_name: req.sampler,
  ...(req.scheduler === undefined ? {} : { scheduler: req.scheduler }),
  batch_size: 1,
  n_iter: 1,
  send_images: true,
  save_images: false,
  ...(req.checkpoint === null
    ? {}
    : {
        override_settings: { sd_model_checkpoint: req.checkpoint },
        // Loading a checkpoint costs seconds; keep it loaded for the next job, which likely wants it too.
        override_settings_restore_afterwards: false,
      }),
});

const parseInfo = (info: unknown): Json | null => {
  if (isRecord(info)) return info;
  if (typeof info !== "string") return null;
  // Forge sends `info` as a JSON string; a malformed one is a bad response, not a crash.
  try {
    const parsed: unknown = JSON.parse(info);
    return isRecord(parsed) ? parsed : null;
  } catch {
    return null;
  }
};

/** Forge's txt2img reply → the first image, the used seed and the info. */
export const decodeTxt2Img = (backendUrl: string, body: unknown): Effect.Effect<GenerationResult, ForgeError> => {
  if (!isRecord(body) || !Array.isArray(body["images"])) {
    return Effect.fail(badResponse(backendUrl, "txt2img reply (no images list)", body));
  }
  const first: unknown = body["images"][0];
  if (first === undefined) {
    return Effect.fail(new ForgeError({ reason: "NoImage", message: "Forge returned no image", backendUrl }));
  }
  const info = parseInfo(body["info"]);
  const allSeeds = info?.["all_seeds"];
  const seed = info?.["seed"] ?? (Array.isArray(allSeeds) ? allSeeds[0] : undefined);
  if (typeof first !== "string" || info === null || typeof seed !== "number") {
    return Effect.fail(badResponse(backendUrl, "txt2img reply (image, info or seed missing)", body["info"]));
  }
  // Some front-ends prefix a data URL; Forge does not, but the cost of accepting it is nil.
  const png = Uint8Array.from(Buffer.from(first.replace(/^data:[^,]*,/, ""), "base64"));
  if (png.length === 0) return Effect.fail(badResponse(backendUrl, "image (empty)", null));
  return Effect.succeed({ png, seed, info });
};

/** Forge's `/progress` reply. */
export const decodeProgress = (backendUrl: string, body: unknown): Effect.Effect<ForgeProgress, ForgeError> => {
  if (!isRecord(body) || !isRecord(body["state"])) return Effect.fail(badResponse(backendUrl, "progress reply", body));
  const state = body["state"];
  const jobCount = num(state["job_count"]);
  return Effect.succeed({
    progress: Math.min(1, Math.max(0, num(body["progress"]))),
    etaRelativeSeconds: num(body["eta_relative"]),
    busy: jobCount > 0,
    jobCount,
    samplingStep: num(state["sampling_step"]),
    samplingSteps: num(state["sampling_steps"]),
    interrupted: state["interrupted"] === true,
  });
};

/** Forge's `/sd-models` reply. */
export const decodeModels = (backendUrl: string, body: unknown): Effect.Effect<SdModel[], ForgeError> => {
  if (!Array.isArray(body) || !body.every((m) => isRecord(m) && typeof m["title"] === "string")) {
    return Effect.fail(badResponse(backendUrl, "list of models", body));
  }
  return Effect.succeed(
    body.map((m: Json) => ({
      title: m["title"] as string,
      modelName: optionalString(m["model_name"]) ?? (m["title"] as string),
      hash: optionalString(m["hash"]),
      sha256: optionalString(m["sha256"]),
      filename: optionalString(m["filename"]) ?? "",
    })),
  );
};

/** A `/samplers` or `/schedulers` reply. */
export const decodeNamed = (backendUrl: string, what: string, body: unknown): Effect.Effect<NamedItem[], ForgeError> =>
  Array.isArray(body) && body.every((item) => isRecord(item) && typeof item["name"] === "string")
    ? Effect.succeed(body.map((item: Json) => ({ name: item["name"] as string })))
    : Effect.fail(badResponse(backendUrl, `list of ${what}`, body));

/** A `/options` reply. */
export const decodeOptions = (backendUrl: string, body: unknown): Effect.Effect<Json, ForgeError> =>
  isRecord(body) ? Effect.succeed(body) : Effect.fail(badResponse(backendUrl, "options reply", body));

import { Effect } from "effect";
import { checkpointSetting } from "./checkpoints";
import { ForgeError } from "./errors";
import { cleanText } from "./text";
import type {
  ForgeProgress,
  GenerationResult,
  ImageFormat,
  NamedItem,
  SdModel,
  SdModule,
  Txt2ImgRequest,
} from "./types";

type Json = Record<string, unknown>;

const isRecord = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const num = (value: unknown, fallback = 0): number =>
  typeof value === "number" && Number.isFinite(value) ? value : fallback;

const optionalString = (value: unknown): string | null => (typeof value === "string" ? cleanText(value) : null);

const badResponse = (backendUrl: string, what: string, cause: unknown): ForgeError =>
  new ForgeError({ reason: "BadResponse", message: `Forge sent an unexpected ${what}`, backendUrl, cause });

/**
 * Anvil's request as Forge's txt2img JSON. `forge_additional_modules` goes with a checkpoint when the job names
 * modules, or as `[]` when `clearModules` (the backend is known to be Forge): AUTOMATIC1111 fails on that option.
 */
export const toForgeTxt2Img = (req: Txt2ImgRequest, clearModules = false): Json => ({
  prompt: req.prompt,
  negative_prompt: req.negativePrompt,
  width: req.width,
  height: req.height,
  steps: req.steps,
  cfg_scale: req.cfgScale,
  ...(req.distilledCfgScale === undefined ? {} : { distilled_cfg_scale: req.distilledCfgScale }),
  seed: req.seed,
  sampler_name: req.sampler,
  ...(req.scheduler == null ? {} : { scheduler: req.scheduler }),
  batch_size: 1,
  n_iter: 1,
  send_images: true,
  save_images: false,
  ...(req.checkpoint === null
    ? {}
    : {
        override_settings: {
          sd_model_checkpoint: checkpointSetting(req.checkpoint),
          // To Forge even when empty: that clears the modules an earlier job left selected. AUTOMATIC1111 knows no
          // such option and fails the job with a KeyError (options.py), so it gets it only when the job needs it.
          ...((req.modules?.length ?? 0) > 0 || clearModules
            ? { forge_additional_modules: [...(req.modules ?? [])] }
            : {}),
        },
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

const startsWith = (bytes: Uint8Array, prefix: readonly number[], at = 0): boolean =>
  prefix.every((byte, i) => bytes[at + i] === byte);

/** An image's encoding from its magic bytes: Forge's `samples_format` may make it JPEG or WebP instead of PNG. */
export const imageFormat = (bytes: Uint8Array): ImageFormat | null => {
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "png";
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return "jpeg";
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return "webp";
  return null;
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
  const format = imageFormat(png);
  if (format === null) return Effect.fail(badResponse(backendUrl, "image (neither PNG, JPEG nor WebP)", null));
  return Effect.succeed({ png, format, seed, info });
};

/** Forge's `/progress` reply. */
export const decodeProgress = (backendUrl: string, body: unknown): Effect.Effect<ForgeProgress, ForgeError> => {
  if (!isRecord(body) || !isRecord(body["state"])) return Effect.fail(badResponse(backendUrl, "progress reply", body));
  const state = body["state"];
  const jobCount = num(state["job_count"]);
  return Effect.succeed({
    progress: Math.min(1, Math.max(0, num(body["progress"]))),
    etaRelativeSeconds: num(body["eta_relative"]),
    // Forge reports job_count -1 while a job sets up and loads its model (often 30-60 s for Flux): busy too.
    busy: jobCount !== 0,
    loading: jobCount < 0,
    jobCount,
    samplingStep: num(state["sampling_step"]),
    samplingSteps: num(state["sampling_steps"]),
    interrupted: state["interrupted"] === true,
    skipped: state["skipped"] === true,
    stopping: state["stopping_generation"] === true,
    job: typeof state["job"] === "string" ? state["job"] : null,
    jobTimestamp: typeof state["job_timestamp"] === "string" ? state["job_timestamp"] : null,
  });
};

/** Forge's `/sd-models` reply. */
export const decodeModels = (backendUrl: string, body: unknown): Effect.Effect<SdModel[], ForgeError> => {
  if (!Array.isArray(body) || !body.every((m) => isRecord(m) && typeof m["title"] === "string")) {
    return Effect.fail(badResponse(backendUrl, "list of models", body));
  }
  return Effect.succeed(
    body.map((m: Json) => ({
      title: cleanText(m["title"] as string),
      modelName: optionalString(m["model_name"]) ?? cleanText(m["title"] as string),
      hash: optionalString(m["hash"]),
      sha256: optionalString(m["sha256"]),
      filename: optionalString(m["filename"]) ?? "",
    })),
  );
};

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string").map((v) => cleanText(v)) : [];

/** A `/samplers` reply (`aliases`) or a `/schedulers` one (`label` and `aliases`): every name txt2img takes. */
export const decodeNamed = (backendUrl: string, what: string, body: unknown): Effect.Effect<NamedItem[], ForgeError> =>
  Array.isArray(body) && body.every((item) => isRecord(item) && typeof item["name"] === "string")
    ? Effect.succeed(
        body.map((item: Json) => {
          const name = cleanText(item["name"] as string);
          const label = typeof item["label"] === "string" ? [cleanText(item["label"])] : [];
          const aliases = [...new Set([...label, ...strings(item["aliases"])])].filter((alias) => alias !== name);
          return { name, aliases };
        }),
      )
    : Effect.fail(badResponse(backendUrl, `list of ${what}`, body));

/** The `/sd-modules` reply: VAE and text-encoder files. */
export const decodeModules = (backendUrl: string, body: unknown): Effect.Effect<SdModule[], ForgeError> =>
  Array.isArray(body) && body.every((m) => isRecord(m) && typeof m["filename"] === "string")
    ? Effect.succeed(
        body.map((m: Json) => {
          const filename = cleanText(m["filename"] as string);
          return { name: optionalString(m["model_name"]) ?? filename, filename };
        }),
      )
    : Effect.fail(badResponse(backendUrl, "list of modules", body));

/** A `/options` reply. */
export const decodeOptions = (backendUrl: string, body: unknown): Effect.Effect<Json, ForgeError> =>
  isRecord(body) ? Effect.succeed(body) : Effect.fail(badResponse(backendUrl, "options reply", body));

import { Effect, Fiber } from "effect";
import { decodeModels, decodeNamed, decodeOptions, decodeProgress, decodeTxt2Img, toForgeTxt2Img } from "./decode";
import type { ForgeError } from "./errors";
import { requestJson, type HttpCall, type HttpSettings } from "./http";
import type { ForgeProgress, GenerationResult, NamedItem, SdModel, Txt2ImgRequest, Txt2ImgResult } from "./types";

/** A client for one Forge backend (one GPU). */
export interface ForgeClient {
  readonly baseUrl: string;
  /** One txt2img call, without progress; interrupting it does not stop the backend (use `generate`). */
  txt2img(req: Txt2ImgRequest): Effect.Effect<Txt2ImgResult, ForgeError>;
  /** The backend's progress, which describes whatever it is running. */
  progress(): Effect.Effect<ForgeProgress, ForgeError>;
  /** Stops whatever the backend is running; its pending txt2img then returns early. */
  interrupt(): Effect.Effect<void, ForgeError>;
  /** The installed checkpoints. */
  sdModels(): Effect.Effect<SdModel[], ForgeError>;
  /** The sampler names txt2img accepts. */
  samplers(): Effect.Effect<NamedItem[], ForgeError>;
  /** The scheduler names txt2img accepts. */
  schedulers(): Effect.Effect<NamedItem[], ForgeError>;
  /** The backend's settings. */
  options(): Effect.Effect<Record<string, unknown>, ForgeError>;
  /** Changes settings; setting `sd_model_checkpoint` loads a model (seconds), so this has no timeout of its own. */
  setOptions(options: Record<string, unknown>): Effect.Effect<void, ForgeError>;
  /**
   * txt2img with progress (`onProgress` gets integers 0..99, non-decreasing, then 100 with the result).
   * Interrupting it, or losing the connection mid-request, interrupts the backend too (Forge would go on otherwise).
   */
  generate(
    req: Txt2ImgRequest,
    opts?: { readonly onProgress?: (percent: number) => void },
  ): Effect.Effect<GenerationResult, ForgeError>;
}

/** Settings of `makeForgeClient`. */
export interface ForgeClientOptions {
  /** E.g. "http://127.0.0.1:7860"; a trailing slash is ignored. */
  readonly baseUrl: string;
  /** Timeout of every call except txt2img and setOptions, which the caller bounds. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** How often `generate` polls progress. Default 500. */
  readonly progressIntervalMs?: number;
  /** Retries, 100 ms apart and doubling, while the backend cannot be reached at all. Default 3. */
  readonly connectRetries?: number;
  /** Replaces the global fetch. */
  readonly fetch?: typeof fetch;
}

/** Builds a client for the Forge server at `options.baseUrl`. */
export const makeForgeClient = (options: ForgeClientOptions): ForgeClient => {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const intervalMs = options.progressIntervalMs ?? 500;
  const settings: HttpSettings = {
    baseUrl,
    connectRetries: options.connectRetries ?? 3,
    fetch: options.fetch ?? globalThis.fetch,
  };
  const call = (method: HttpCall["method"], path: string, extra: Partial<HttpCall> = {}) =>
    requestJson(settings, { method, path, timeoutMs, ...extra });

  const txt2img = (req: Txt2ImgRequest) =>
    call("POST", "/sdapi/v1/txt2img", { body: toForgeTxt2Img(req), timeoutMs: undefined }).pipe(
      Effect.flatMap((body) => decodeTxt2Img(baseUrl, body)),
    );
  const progress = () =>
    call("GET", "/sdapi/v1/progress?skip_current_image=true").pipe(
      Effect.flatMap((body) => decodeProgress(baseUrl, body)),
    );
  const interrupt = () => call("POST", "/sdapi/v1/interrupt").pipe(Effect.asVoid);

  const generate: ForgeClient["generate"] = (req, opts) =>
    Effect.gen(function* () {
      let reported = -1;
      const report = (p: ForgeProgress) =>
        Effect.sync(() => {
          // 100 is kept for the result: the last poll can read 1.0 while Forge is still encoding the image.
          const percent = Math.min(99, Math.floor(p.progress * 100));
          if (!p.busy || percent <= reported) return;
          reported = percent;
          opts?.onProgress?.(percent);
        });
      const poller = yield* Effect.sleep(intervalMs).pipe(
        Effect.andThen(progress()),
        Effect.flatMap(report),
        Effect.ignore,
        Effect.forever,
        Effect.forkChild,
      );
      const result = yield* txt2img(req).pipe(Effect.ensuring(Fiber.interrupt(poller)));
      opts?.onProgress?.(100);
      return result;
    }).pipe(
      // Forge keeps generating after its client disconnects; only /interrupt frees the GPU.
      Effect.onInterrupt(() => Effect.ignore(interrupt())),
      // Without its connection the image can never be delivered, so stop the backend from finishing it.
      Effect.tapError((error) =>
        error.reason === "ConnectionLost" || error.reason === "Timeout" ? Effect.ignore(interrupt()) : Effect.void,
      ),
    );

  return {
    baseUrl,
    txt2img,
    progress,
    interrupt,
    generate,
    sdModels: () => call("GET", "/sdapi/v1/sd-models").pipe(Effect.flatMap((body) => decodeModels(baseUrl, body))),
    samplers: () =>
      call("GET", "/sdapi/v1/samplers").pipe(Effect.flatMap((body) => decodeNamed(baseUrl, "samplers", body))),
    schedulers: () =>
      call("GET", "/sdapi/v1/schedulers").pipe(Effect.flatMap((body) => decodeNamed(baseUrl, "schedulers", body))),
    options: () => call("GET", "/sdapi/v1/options").pipe(Effect.flatMap((body) => decodeOptions(baseUrl, body))),
    setOptions: (values) =>
      call("POST", "/sdapi/v1/options", { body: values, timeoutMs: undefined }).pipe(Effect.asVoid),
  };
};

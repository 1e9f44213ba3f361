import { Duration, Effect, Exit, Fiber, Option, Schedule, Semaphore } from "effect";
import { parseBackendUrl } from "./backend-url";
import { checkpointSetting, madeWith } from "./checkpoints";
import {
  decodeModels,
  decodeModules,
  decodeNamed,
  decodeOptions,
  decodeProgress,
  decodeTxt2Img,
  toForgeTxt2Img,
} from "./decode";
import { ForgeError, MAY_STILL_RUN } from "./errors";
import { requestJson, type HttpCall, type HttpSettings } from "./http";
import type {
  ForgeProgress,
  GenerationResult,
  NamedItem,
  SdModel,
  SdModule,
  Txt2ImgRequest,
  Txt2ImgResult,
} from "./types";

/**
 * How often `generate` polls `/progress` once a job is at its end (decoding its image): often enough to hand the GPU
 * on before Forge has encoded and sent the image.
 */
const FINISH_POLL_MS = 50;

/** When `generate` first polls `/progress`, so that a job shorter than the interval is seen sampling too. */
const FIRST_POLL_MS = 100;

/** A stopped generation not seen begun on Forge: how often to look for it, and how long Forge idle means it is gone. */
const STOP_POLL_MS = 50;
const BEGIN_WITHIN_MS = 500;

/**
 * Whether `/progress` describes a txt2img sent through the API (Forge begins it as `scripts_txt2img`), the only kind
 * of job Anvil sends, and not one it can never have sent that this request waits behind: a job someone started in
 * Forge's own UI (a `task(…)` id), or another client's img2img (`scripts_img2img`) or extras (`extras`, from the API
 * or the UI). A build that does not say counts as the API's.
 */
export const isApiTxt2img = (p: ForgeProgress): boolean => p.job === null || p.job === "scripts_txt2img";

/** What `/progress` says of a Forge with nothing to do: for stand-ins of a backend (the bench's, tests'). */
export const IDLE_PROGRESS: ForgeProgress = {
  progress: 0,
  etaRelativeSeconds: 0,
  busy: false,
  loading: false,
  jobCount: 0,
  samplingStep: 0,
  samplingSteps: 0,
  interrupted: false,
  skipped: false,
  job: "",
};

/** A client for one Forge backend (one GPU). */
export interface ForgeClient {
  /** The backend's URL without credentials: the one to show, log and store. */
  readonly baseUrl: string;
  /** One txt2img call, without progress; interrupting it does not stop the backend (use `generate`). */
  txt2img(req: Txt2ImgRequest): Effect.Effect<Txt2ImgResult, ForgeError>;
  /** The backend's progress, which describes whatever it is running. */
  progress(): Effect.Effect<ForgeProgress, ForgeError>;
  /** Stops whatever the backend is running; its pending txt2img then returns early. */
  interrupt(): Effect.Effect<void, ForgeError>;
  /** The installed checkpoints. */
  sdModels(): Effect.Effect<SdModel[], ForgeError>;
  /** Makes Forge read its checkpoint folder again (a file added since it started). */
  refreshCheckpoints(): Effect.Effect<void, ForgeError>;
  /** VAE and text-encoder files a checkpoint may need beside it. */
  sdModules(): Effect.Effect<SdModule[], ForgeError>;
  /** The sampler names txt2img accepts. */
  samplers(): Effect.Effect<NamedItem[], ForgeError>;
  /** The scheduler names txt2img accepts. */
  schedulers(): Effect.Effect<NamedItem[], ForgeError>;
  /** The backend's settings. */
  options(): Effect.Effect<Record<string, unknown>, ForgeError>;
  /**
   * Changes settings, with no timeout of its own (the caller bounds it). Setting `sd_model_checkpoint` only selects
   * the model the next job loads (Forge's `set_config` in modules/sysinfo.py): nothing is loaded here.
   */
  setOptions(options: Record<string, unknown>): Effect.Effect<void, ForgeError>;
  /**
   * The server is going away: a stopped generation that waits behind a job from Forge's own UI is watched for no
   * longer than `stopWatchMs` from now on (the next start interrupts what is left: see the backend monitor).
   */
  abandonStops(): void;
  /**
   * txt2img with progress (`onProgress` gets integers 0..99, non-decreasing, then 100 with the result).
   * Interrupting it, or losing the connection mid-request, interrupts the backend too (Forge would go on otherwise).
   * A 200 is checked: an interrupt or skip from Forge's own UI (`Interrupted`) or an ignored checkpoint override
   * (`WrongModel`) fail it, and so does an answer without an image after such an interrupt (`Interrupted`).
   * `onGenerated` is called once the GPU is free: when `/progress` goes idle after the job sampled (Forge encodes and
   * sends the image after it left its lock, and the flags are read from that same reply), or else once Forge's 200
   * begins to arrive, before its body is read and checked. A caller may start the next job then. One client runs one
   * job at a time on Forge, its flags read included (the next job resets them): a second call waits until the first
   * is over there, which may be before the first one's image has arrived. `onSent` is called when the txt2img
   * request has been handed to the connection (again for each retry of a connection that could not be made).
   * `onLoading` is told `true` when a poll shows this job setting up and loading its model on Forge (`job_count` -1:
   * 30–60 s for a Flux checkpoint), and `false` once it samples.
   */
  generate(
    req: Txt2ImgRequest,
    opts?: {
      readonly onProgress?: (percent: number) => void;
      readonly onGenerated?: () => void;
      readonly onSent?: () => void;
      readonly onLoading?: (loading: boolean) => void;
    },
  ): Effect.Effect<GenerationResult, ForgeError>;
}

/** Settings of `makeForgeClient`. */
export interface ForgeClientOptions {
  /**
   * E.g. "http://127.0.0.1:7860"; a trailing slash is ignored. Credentials in it ("http://user:pass@host:7860",
   * Forge's `--api-auth`) are sent as HTTP Basic authorization and never appear in `baseUrl` or an error.
   */
  readonly baseUrl: string;
  /** Timeout of every call except txt2img and setOptions, which the caller bounds. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** How often `generate` polls progress. Default 500. */
  readonly progressIntervalMs?: number;
  /**
   * How long a stopped generation not seen begun is watched for (to be interrupted once it begins: Forge runs a
   * request whose client left all the same), while nothing shows another client's job ahead of it. Default 10 000.
   */
  readonly stopWatchMs?: number;
  /**
   * How long it is watched for while a job from Forge's own UI holds the GPU ahead of it, however long that job
   * takes: given up on sooner, it would run once that job ends, unseen, and the next job sent there would wait behind
   * it and take its progress for its own. Default 600 000 (JOB_TIMEOUT_MS's default).
   */
  readonly longestJobMs?: number;
  /** Retries, 100 ms apart and doubling, while the backend cannot be reached at all. Default 3. */
  readonly connectRetries?: number;
  /** Replaces the global fetch. */
  readonly fetch?: typeof fetch;
}

/** Builds a client for the Forge server at `options.baseUrl`. */
export const makeForgeClient = (options: ForgeClientOptions): ForgeClient => {
  const { baseUrl, authorization } = parseBackendUrl(options.baseUrl);
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  const intervalMs = options.progressIntervalMs ?? 500;
  const stopWatchMs = options.stopWatchMs ?? 10_000;
  const longestJobMs = Math.max(stopWatchMs, options.longestJobMs ?? 600_000);
  // See `abandonStops`.
  let abandoned = false;
  // Checkpoint rescans this client asked for and Forge has not answered: each holds Forge's generation lock while
  // `/progress` says idle, so a request of this client's may be waiting behind one.
  let rescans = 0;
  const settings: HttpSettings = {
    baseUrl,
    authorization,
    connectRetries: options.connectRetries ?? 3,
    fetch: options.fetch ?? globalThis.fetch,
  };
  const call = (method: HttpCall["method"], path: string, extra: Partial<HttpCall> = {}) =>
    requestJson(settings, { method, path, timeoutMs, ...extra });

  const sdModels = () => call("GET", "/sdapi/v1/sd-models").pipe(Effect.flatMap((body) => decodeModels(baseUrl, body)));
  const sdModules = () =>
    call("GET", "/sdapi/v1/sd-modules").pipe(Effect.flatMap((body) => decodeModules(baseUrl, body)));

  // Whether the backend is Forge rather than AUTOMATIC1111: learned once, from /sd-modules (Forge's alone).
  let isForge: boolean | null = null;
  const knownForge: Effect.Effect<boolean> = Effect.suspend(() =>
    isForge !== null
      ? Effect.succeed(isForge)
      : sdModules().pipe(
          Effect.map(() => (isForge = true)),
          // A 404 is an answer (no such route); any other failure leaves the question open for the next job.
          Effect.catch((error) => Effect.succeed(/\(HTTP 404\)/.test(error.message) ? (isForge = false) : false)),
        ),
  );

  /**
   * Forge drops its model before it loads another, and a failed load leaves `forge_hash` naming the dropped one: every
   * job for that checkpoint then fails with an AttributeError on None until another checkpoint loads (Forge issue
   * #2166). Re-selecting it does nothing, so the operator is told what to do.
   */
  const modelLost = (error: ForgeError): ForgeError =>
    error.reason === "HttpError" && /sd_checkpoint_info/.test(error.message) && /NoneType/.test(error.message)
      ? new ForgeError({
          reason: "HttpError",
          message: `Forge at ${baseUrl} lost its model after a checkpoint failed to load (Forge issue #2166): load another checkpoint in Forge or restart it`,
          backendUrl: baseUrl,
          cause: error,
        })
      : error;

  const txt2img = (req: Txt2ImgRequest, onAnswered?: HttpCall["onAnswered"], onSent?: HttpCall["onSent"]) =>
    Effect.gen(function* () {
      const clearModules = req.checkpoint !== null && (req.modules?.length ?? 0) === 0 && (yield* knownForge);
      const body = yield* call("POST", "/sdapi/v1/txt2img", {
        body: toForgeTxt2Img(req, clearModules),
        timeoutMs: undefined,
        onAnswered,
        onSent,
      });
      return yield* decodeTxt2Img(baseUrl, body);
    }).pipe(Effect.mapError(modelLost));
  const progress = () =>
    call("GET", "/sdapi/v1/progress?skip_current_image=true").pipe(
      Effect.flatMap((body) => decodeProgress(baseUrl, body)),
    );
  const interrupt = () => call("POST", "/sdapi/v1/interrupt").pipe(Effect.asVoid);

  const readOptions = () =>
    call("GET", "/sdapi/v1/options").pipe(Effect.flatMap((body) => decodeOptions(baseUrl, body)));
  const setOptions = (values: Record<string, unknown>) =>
    call("POST", "/sdapi/v1/options", { body: values, timeoutMs: undefined }).pipe(Effect.asVoid);

  /**
   * A 200 is not yet a finished image: Forge answers one after an interrupt or skip from its own UI too. `flags` are
   * the job's flags as `/progress` shows them (see `runOnForge`); null when they cannot be read.
   */
  const checkFinished = (req: Txt2ImgRequest, result: GenerationResult, flags: Effect.Effect<ForgeProgress | null>) =>
    Effect.gen(function* () {
      const after = Option.fromNullishOr(yield* flags);
      if (after._tag === "Some" && (after.value.interrupted || after.value.skipped)) {
        return yield* Effect.fail(
          new ForgeError({
            reason: "Interrupted",
            message: `The generation was ${after.value.skipped ? "skipped" : "interrupted"} in Forge's own interface at ${baseUrl}; the image it answered with was discarded`,
            backendUrl: baseUrl,
          }),
        );
      }
      if (req.checkpoint !== null && !madeWith(result.info, req.checkpoint)) {
        const used = String(result.info["sd_model_name"] ?? result.info["sd_model_hash"] ?? "another model");
        // The title may be another backend's listing of a file of the same name with other contents (its " [hash]"
        // differs); Forge was sent the file name alone, so what this backend lists under that name is what it loads.
        // A name it does not list at all it ignores in silence (processing.py): that is no old build.
        const sent = checkpointSetting(req.checkpoint);
        const listed = yield* sdModels().pipe(Effect.option);
        const own = listed._tag === "Some" ? listed.value.find((m) => checkpointSetting(m.title) === sent) : undefined;
        if (own !== undefined && madeWith(result.info, own.title)) return result;
        if (listed._tag === "Some" && own === undefined) {
          return yield* Effect.fail(
            new ForgeError({
              reason: "WrongModel",
              message: `Forge at ${baseUrl} has no checkpoint ${sent} (it ignores a name it does not know) and made the image with ${used}`,
              backendUrl: baseUrl,
            }),
          );
        }
        return yield* Effect.fail(
          new ForgeError({
            reason: "WrongModel",
            message: `Forge at ${baseUrl} made the image with ${used} instead of ${req.checkpoint}: this Forge build ignores the checkpoint override; update Forge`,
            backendUrl: baseUrl,
          }),
        );
      }
      return result;
    });

  /**
   * Stops this client's generation on Forge. One that was seen running is interrupted. One not seen begun yet is
   * still being set up, or waits behind a job from Forge's own UI: Forge runs it all the same once it can (a request
   * whose client left is not dropped), and `state.begin()` clears an interrupt sent before. So it is interrupted once
   * it is seen running, never the other person's job; Forge idle for half a second means it ended or never arrived,
   * unless a checkpoint rescan this client asked for holds Forge's lock meanwhile (Forge says idle then).
   * It is looked for `stopWatchMs`, or, once a job from Forge's UI is seen ahead of it, for as long as that job may
   * take (`longestJobMs`): the caller goes on only once it is stopped, so no next job is sent to wait behind it.
   */
  const stopOnForge = (begun: boolean, behindAnother: boolean): Effect.Effect<void> => {
    if (begun && !behindAnother) return Effect.ignore(interrupt());
    const since = performance.now();
    let othersAhead = behindAnother;
    let idleSince: number | null = null;
    const watchForIt: Effect.Effect<void, "waiting"> = progress().pipe(
      // A backend that does not answer has nothing to stop, as far as anyone can tell: its probes take over.
      Effect.orElseSucceed(() => null),
      Effect.flatMap((p) => {
        if (p === null) return Effect.void;
        if (p.busy && isApiTxt2img(p)) return p.interrupted ? Effect.void : Effect.ignore(interrupt());
        // Behind a rescan of this client's, Forge looks idle while the request waits for the lock.
        if (p.busy || rescans > 0) {
          idleSince = null;
          othersAhead = true;
        } else idleSince ??= performance.now();
        if (idleSince !== null && performance.now() - idleSince > BEGIN_WITHIN_MS) return Effect.void;
        const limit = othersAhead && !abandoned ? longestJobMs : stopWatchMs;
        return performance.now() - since > limit ? Effect.void : Effect.fail("waiting" as const);
      }),
    );
    // Still being set up: the interrupt stops it if it has begun meanwhile; behind another's job it would stop theirs.
    return (behindAnother ? Effect.void : Effect.ignore(interrupt())).pipe(
      Effect.andThen(watchForIt.pipe(Effect.retry({ schedule: Schedule.spaced(Duration.millis(STOP_POLL_MS)) }))),
      Effect.ignore,
    );
  };

  /**
   * A 200 without an image: Forge answers that when its job was stopped before sampling began (processing.py checks
   * the flags once the model is loaded), e.g. Interrupt pressed in its own UI during a model load. The flags say so.
   */
  const stoppedBeforeSampling = (noImage: ForgeError, flags: Effect.Effect<ForgeProgress | null>) =>
    Effect.gen(function* () {
      const after = Option.fromNullishOr(yield* flags);
      if (after._tag === "None" || !(after.value.interrupted || after.value.skipped || after.value.stopping === true)) {
        return yield* Effect.fail(noImage);
      }
      return yield* Effect.fail(
        new ForgeError({
          reason: "Interrupted",
          message: `The generation was ${after.value.skipped ? "skipped" : "interrupted"} in Forge's own interface at ${baseUrl} before it began sampling; Forge made no image`,
          backendUrl: baseUrl,
        }),
      );
    });

  // See `generate`: Forge's flags must be read for one job before this client starts the next there.
  const oneAtATime = Semaphore.makeUnsafe(1);

  /**
   * One job on Forge. `over` is told when the GPU is free and the job's flags are read: as soon as `/progress` goes idle
   * after the job sampled (Forge encodes the image after it left its lock, a tenth of a second or more for a full-size
   * PNG, and the answer still has to travel), or else once the answer came and the flags were read after it.
   */
  const runOnForge = (
    req: Txt2ImgRequest,
    opts: Parameters<ForgeClient["generate"]>[1],
    over: Effect.Effect<void>,
  ): Effect.Effect<GenerationResult, ForgeError> => {
    let reported = -1;
    let sampled = false;
    // The last reply showed another client's job (Forge's own UI, an img2img or extras) running while this one waits
    // for the lock.
    let behindAnother = false;
    // A reply showed this job begun on Forge (setting up, loading or sampling).
    let begun = false;
    // What `onLoading` was told last.
    let loadingSaid = false;
    let last: ForgeProgress | null = null;
    // What /progress said as the job went idle, once it did before the answer came.
    let ended: ForgeProgress | null = null;
    // This job's `job_timestamp`, and its sampling steps as replies showed them (the last few), to tell its flags
    // from another job's once that began: Forge's state.begin() clears them (see `ownFlags`).
    let own: string | null = null;
    const steps: { at: number; step: number; of: number }[] = [];
    // When a reply first showed another client's job (Forge's UI) running after this one had begun: it was over.
    let overtakenAt: number | null = null;
    let told = false;
    // The GPU is free: the caller hears it once, at idle or at the answer, whichever comes first.
    const generated = () => {
      if (told) return;
      told = true;
      opts?.onGenerated?.();
    };
    const watch = (p: ForgeProgress): Effect.Effect<void> =>
      Effect.suspend(() => {
        behindAnother = false;
        if (!p.busy) {
          last = p;
          // Idle after it sampled: this job is done (idle before that is Forge not having begun it yet).
          if (!sampled) return Effect.void;
          generated();
          ended = p;
          return over;
        }
        // Another client's job holds the lock (one begun in Forge's own UI, an img2img or extras): its steps, and its
        // end, are not this job's.
        if (!isApiTxt2img(p)) {
          behindAnother = !sampled;
          if (begun) overtakenAt ??= performance.now();
          return Effect.void;
        }
        last = p;
        begun = true;
        own ??= p.jobTimestamp ?? null;
        // Forge sets job_count -1 as a job sets up and loads its model, then n_iter as it samples: told on each change
        // until the job samples (a -1 after that is not this job's load).
        if (p.loading !== loadingSaid && !(sampled && p.loading)) {
          loadingSaid = p.loading;
          opts?.onLoading?.(p.loading);
        }
        // Forge reports job_count -1 while it sets up and loads the model, then sets it to n_iter just before sampling
        // (processing.py): from then on the job is past its load, and idle means it is done, even after one step.
        if (p.jobCount > 0) {
          sampled = true;
          steps.push({ at: performance.now(), step: p.samplingStep, of: p.samplingSteps });
          if (steps.length > 8) steps.shift();
        }
        // 100 is kept for the result: the last poll can read 1.0 while Forge is still decoding the image.
        const percent = Math.min(99, Math.floor(p.progress * 100));
        if (percent > reported) {
          reported = percent;
          opts?.onProgress?.(percent);
        }
        return Effect.void;
      });
    // First soon after the start, then every `intervalMs`, or when Forge expects the sampling to end if that is
    // sooner; from the last step on (Forge decodes the image, then goes idle) every FINISH_POLL_MS.
    const nextPollMs = (): number => {
      if (behindAnother) return intervalMs;
      if (last === null) return FIRST_POLL_MS;
      if (!sampled) return intervalMs;
      // Forge's `sampling_step` is 0-based (k-diffusion's step index): the last step is `sampling_steps - 1`.
      if (last.samplingStep >= last.samplingSteps - 1) return FINISH_POLL_MS;
      // Forge's eta_relative is elapsed / progress - elapsed, its progress floored at 0.01: far too long early on, right
      // only near the end. Half of it comes back before the end, and soon enough to see it (then every 50 ms).
      return Math.max(FINISH_POLL_MS, (last.etaRelativeSeconds * 1000) / 2);
    };
    const pause = () => Effect.sleep(Duration.millis(Math.min(nextPollMs(), intervalMs)));
    const poll: Effect.Effect<void> = Effect.suspend(pause).pipe(
      Effect.andThen(progress()),
      Effect.flatMap(watch),
      Effect.ignore,
      Effect.andThen(Effect.suspend(() => (ended === null ? poll : Effect.void))),
    );
    /**
     * Whether the job ended well before its last step could have come: its last step seen was not the last, and it was
     * over sooner than half the time its remaining steps take at the fastest pace its replies showed.
     */
    const cutShort = (overAt: number): boolean => {
      const seen = steps.at(-1);
      if (seen === undefined || seen.step >= seen.of - 1) return false;
      let fastestMs = Infinity;
      let a: (typeof steps)[number] | undefined;
      for (const b of steps) {
        if (a !== undefined && b.step > a.step) fastestMs = Math.min(fastestMs, (b.at - a.at) / (b.step - a.step));
        a = b;
      }
      return Number.isFinite(fastestMs) && overAt - seen.at < ((seen.of - 1 - seen.step) * fastestMs) / 2;
    };
    /**
     * This job's flags: from the reply that saw it go idle, else read now, while the GPU is still this client's (the
     * next job there waits for this check). But a job from Forge's own UI that waited for the lock begins the moment
     * this one leaves it, too soon for a poll to see Forge idle in between, and its state.begin() clears the flags:
     * then they are what this job's own replies showed, and an end that came well before its last step could have
     * is taken as an interrupt (that is how Forge ends a job early with a 200).
     */
    const ownFlags: Effect.Effect<ForgeProgress | null> = Effect.suspend(() =>
      ended !== null
        ? Effect.succeed(ended)
        : progress().pipe(
            Effect.map((now): ForgeProgress | null => {
              const another =
                overtakenAt !== null ||
                (now.busy && !isApiTxt2img(now)) ||
                (own !== null && now.jobTimestamp != null && now.jobTimestamp !== own);
              if (!another || last === null || last.interrupted || last.skipped) return another ? last : now;
              return cutShort(overtakenAt ?? performance.now()) ? { ...last, interrupted: true } : last;
            }),
            Effect.orElseSucceed(() => null),
          ),
    );
    return Effect.gen(function* () {
      const poller = yield* Effect.forkChild(poll);
      // Forge answers once it left its lock: its 200 (JSON) beginning to arrive means the GPU is free, while the image
      // (1–2 MB of base64 at full size) is still on its way and to be read. Nothing else: a gateway in front of Forge
      // answers 502 or 504 while Forge goes on generating, and an HTML page is not Forge's answer at all.
      const answered = (status: number, contentType: string) => {
        if (status === 200 && contentType.startsWith("application/json")) generated();
      };
      const result = yield* txt2img(req, answered, opts?.onSent).pipe(
        Effect.ensuring(Fiber.interrupt(poller)),
        Effect.catch((error) =>
          error.reason === "NoImage" ? stoppedBeforeSampling(error, ownFlags) : Effect.fail(error),
        ),
      );
      generated();
      const finished = yield* checkFinished(req, result, ownFlags);
      opts?.onProgress?.(100);
      return finished;
    }).pipe(
      // Forge keeps generating after its client disconnects; only /interrupt frees the GPU. Once the job is over
      // there, an interrupt would stop the next job instead.
      Effect.onInterrupt(() => (ended === null ? stopOnForge(begun, behindAnother) : Effect.void)),
      // Without its connection the image can never be delivered, so stop the backend from finishing it.
      Effect.tapError((error) =>
        ended === null && (error.reason === "ConnectionLost" || error.reason === "Timeout")
          ? stopOnForge(begun, behindAnother)
          : Effect.void,
      ),
    );
  };

  const generate: ForgeClient["generate"] = (req, opts) =>
    Effect.suspend(() => {
      // The permit goes back when the job is over on Forge, which may be before its answer is read; once.
      let held = true;
      const over = Effect.suspend(() => {
        if (!held) return Effect.void;
        held = false;
        return oneAtATime.release(1);
      });
      return Effect.uninterruptibleMask((restore) =>
        restore(oneAtATime.take(1)).pipe(
          Effect.andThen(restore(runOnForge(req, opts, over)).pipe(Effect.ensuring(over))),
        ),
      );
    });

  return {
    baseUrl,
    txt2img,
    progress,
    interrupt,
    generate,
    abandonStops: () => void (abandoned = true),
    sdModels,
    // Rescanning a large models folder can take a while.
    refreshCheckpoints: () =>
      Effect.suspend(() => {
        rescans++;
        return call("POST", "/sdapi/v1/refresh-checkpoints", { timeoutMs: Math.max(timeoutMs, 60_000) }).pipe(
          Effect.asVoid,
          Effect.onExit((exit) =>
            Effect.sync(() => {
              const failure = Exit.findErrorOption(exit);
              // Given up without Forge's answer (timed out, cut, or the caller went), the rescan may still wait for
              // Forge's lock and run then: Forge runs it to its end whoever left (a plain endpoint, in a worker
              // thread). It counts for as long as a job ahead of it may take.
              const mayRun =
                Exit.isFailure(exit) && (Option.isNone(failure) || MAY_STILL_RUN.has(failure.value.reason));
              if (!mayRun) return void rescans--;
              setTimeout(() => rescans--, longestJobMs).unref();
            }),
          ),
        );
      }),
    sdModules,
    samplers: () =>
      call("GET", "/sdapi/v1/samplers").pipe(Effect.flatMap((body) => decodeNamed(baseUrl, "samplers", body))),
    schedulers: () =>
      call("GET", "/sdapi/v1/schedulers").pipe(Effect.flatMap((body) => decodeNamed(baseUrl, "schedulers", body))),
    options: readOptions,
    setOptions,
  };
};

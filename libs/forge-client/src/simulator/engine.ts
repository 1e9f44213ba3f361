import type { Txt2ImgParams } from "./faults";
import { FifoLock } from "./fifo-lock";
import { cappedSize, renderPixels } from "./image";
import { generationInfo } from "./info";
import { matchModel, simulatedModel, type SimulatedModel } from "./models";
import { encodePng } from "./png";
import { SAMPLE_JPEG, SAMPLE_WEBP } from "./samples";
import { StatsRecorder, type SimulatorLogEntry } from "./stats";

/** The faults that act inside a generation (the others are answered before one starts). */
export type GenerationFault = "oom" | "vaeoom" | "500" | "noimage" | "hang" | "slow" | "drop";

/** One generation to run; `external` ones stand for another client's work (`setBusy`). */
export interface GenerationJob {
  readonly params: Txt2ImgParams;
  readonly fault?: GenerationFault | undefined;
  readonly external?: boolean;
  /**
   * Where an `external` generation came from, as Forge's `state.job` tells it: Forge's own UI (a `task(…)` id, the
   * default), another client of the API (`scripts_txt2img`, as a generation a killed Anvil left behind), or another
   * client's img2img (`scripts_img2img`) or extras (`extras`).
   */
  readonly from?: ExternalSource;
  /** A set-up phase of this length whatever the model (another client's job that loads one). */
  readonly loadMs?: number;
  /** Called after each sampling step. */
  readonly onStep?: (step: number, steps: number) => void;
  /** Ends a "hang" generation normally once true (the external work finished). */
  readonly until?: () => boolean;
}

/** Forge's 500 body: `{ error, detail, body, message }` (webui.py's exception handler). */
export interface FailureBody {
  readonly error: string;
  readonly detail: string;
  readonly body: string;
  readonly message: string;
}

/** How a generation ended, with what the HTTP layer answers. */
export type GenerationOutcome =
  /** `encode` makes the image file: Forge does that after the generation, outside its lock (see `run`). */
  | { readonly kind: "image"; readonly encode: () => Buffer; readonly info: string; readonly entry: SimulatorLogEntry }
  | { readonly kind: "empty"; readonly info: string; readonly entry: SimulatorLogEntry }
  | { readonly kind: "error"; readonly body: FailureBody; readonly entry: SimulatorLogEntry };

/** Forge's `samples_format`: what the API's base64 images are encoded as. */
export type SamplesFormat = "png" | "jpg" | "webp";

interface Running {
  /** Forge's `job_count` is -1 while a job sets up and loads its model, then 1 while it samples. */
  phase: "loading" | "sampling";
  readonly steps: number;
  /** Steps done; Forge's `sampling_step` is the 0-based index of the last one (k-diffusion's callback `i`). */
  step: number;
  /** Forge's `job_no`: 1 once the image is decoded (`state.nextjob()`), which makes `/progress` read 1. */
  jobNo: number;
  /** `state.time_start`, from which Forge derives `eta_relative`. */
  readonly startedAt: number;
  /** `state.job_timestamp`: when it began, to the second, as Forge formats it ("%Y%m%d%H%M%S"). */
  readonly timestamp: string;
  interrupted: boolean;
  skipped: boolean;
  readonly job: GenerationJob;
}

/** Settings the engine reads on every step, so tests can change them live. */
export interface EngineSettings {
  stepMs: number;
  /** The cost of switching checkpoints (or their modules): a load that no interrupt cuts short. */
  modelLoadMs: number;
  readonly maxImageSize: number;
  /**
   * How long making the image file takes once the generation is done: Forge encodes its PNG (and base64) after it
   * left its lock and reported idle, so the GPU is free meanwhile (`text2imgapi` in modules/api/api.py).
   */
  encodeMs: number;
  /** How long a failure's answer takes on its way (see `ForgeSimulatorOptions.errorAnswerMs`). */
  errorAnswerMs: number;
  /**
   * How long a job holds the lock after it reported idle: Forge's `state.end()` sets `job_count` 0, then frees GPU
   * memory (`torch_gc`) before the lock is released and a waiting request begins.
   */
  readonly cleanupMs: number;
  /**
   * How long a request takes before it waits for the lock: Forge's `text2imgapi` sets up the scripts and their
   * arguments first, so an interrupt sent meanwhile lands before the job's `state.begin()`, which clears it.
   */
  readonly setupMs: number;
  /** An old Forge build that ignores `override_settings.sd_model_checkpoint`. */
  readonly ignoreCheckpointOverride: boolean;
  /** Model names that load only with `forge_additional_modules` (a Flux UNet without VAE / text encoders). */
  readonly modularModels: readonly string[];
  /** The module files Forge lists (full paths): `forge_additional_modules` keeps only those, by base name. */
  readonly moduleFiles: readonly string[];
}

/** What Forge's options select: the model and modules the next generation loads. */
interface Selection {
  readonly model: SimulatedModel;
  /** `sd_model_checkpoint` as it was set (any of the model's names): /options returns it as it is. */
  readonly setting: string;
  readonly modules: readonly string[];
}

/** Forge compares modules by their files, sorted (`modules_change` in modules_forge/main_entry.py). */
const sameModules = (a: readonly string[], b: readonly string[]): boolean =>
  [...a].sort().join("\n") === [...b].sort().join("\n");

/** By file: a title changes when Forge first hashes the file. */
const sameSelection = (a: Selection | null, b: Selection): boolean =>
  a !== null && a.model.filename === b.model.filename && sameModules(a.modules, b.modules);

const CLIP_MISSING: FailureBody = {
  error: "AssertionError",
  detail: "",
  body: "",
  message: "You do not have CLIP state dict!",
};

/** A job for the checkpoint Forge last loaded, after a failed load dropped that model (Forge issue #2166). */
const MODEL_LOST: FailureBody = {
  error: "AttributeError",
  detail: "",
  body: "",
  message: "'NoneType' object has no attribute 'sd_checkpoint_info'",
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Forge's generation side: a FIFO lock, one running generation, the selected and the loaded checkpoint. */
export class SimulatorEngine {
  readonly recorder = new StatsRecorder();
  private readonly lock = new FifoLock();
  private current: Running | null = null;
  /** The last job: its interrupted / skipped flags stay visible until the next one begins, as in Forge. */
  private last: Running | null = null;
  /** Forge's flags before its first job: an interrupt or a skip sent then shows until that job begins. */
  private readonly idleFlags = { interrupted: false, skipped: false };
  /** Forge's `model_data.sd_model`: dropped before a load, so null after a load that failed. */
  private loaded: Selection | null = null;
  /** Forge's `forge_hash`: what was last loaded successfully; a failed load leaves it as it was. */
  private forgeHash: Selection;
  /** Forge's `state.sampling_steps`: set when sampling begins and never reset, so idle and loading show the last. */
  private samplingSteps = 0;
  private closed = false;
  /** What POST /options (or an override kept afterwards) selected. */
  selected: Selection;
  /** `samples_format`. */
  samplesFormat: SamplesFormat = "png";

  constructor(
    readonly settings: EngineSettings,
    readonly models: SimulatedModel[],
    first: SimulatedModel,
  ) {
    // Forge's UI sets the first checkpoint's name (no hash) when none is set (modules_forge/main_entry.py).
    this.selected = { model: first, setting: first.filename.split("/").pop() ?? first.title, modules: [] };
    this.loaded = this.selected;
    this.forgeHash = this.selected;
  }

  /** The selected checkpoint, as `/options` reports it. */
  get model(): SimulatedModel {
    return this.selected.model;
  }

  /**
   * Selects a checkpoint for the next generation (Forge's POST /options); false when no model has that name. As in
   * Forge's `checkpoint_change`, the setting keeps the string it was given, and is left as it was when that names the
   * model already selected.
   */
  select(name: string, modules?: readonly string[]): boolean {
    const found = matchModel(this.models, name);
    if (!found) return false;
    const setting = found.filename === this.selected.model.filename ? this.selected.setting : name;
    // Forge's `modules_change`: each value's base name (os.path.basename: a POSIX Forge splits at "/" alone) looked
    // up in its own module list, whose full path is kept; a name it does not list is dropped in silence.
    const files = modules?.flatMap((value) => {
      const base = value.split("/").pop() ?? value;
      const file = this.settings.moduleFiles.find((f) => f.split("/").pop() === base);
      return file === undefined ? [] : [file];
    });
    const kept = files === undefined || sameModules(files, this.selected.modules);
    this.selected = { model: found, setting, modules: kept ? this.selected.modules : files };
    return true;
  }

  /** Waits for the lock like Forge's queue, then loads what is selected and generates. */
  async run(job: GenerationJob): Promise<GenerationOutcome> {
    const held = job.external ? undefined : this.recorder.requestHeld();
    // Only txt2img requests count: another client's work (`setBusy`) that waits behind one is that client's affair.
    if (this.current !== null && !job.external) this.recorder.waited();
    const release = await this.lock.acquire();
    const seed = job.params.seed === -1 ? Math.floor(Math.random() * 2 ** 32) : job.params.seed;
    const entry = this.recorder.started(job.params.prompt, seed, job.params.checkpoint);
    const running: Running = {
      phase: "loading",
      steps: job.params.steps,
      step: 0,
      jobNo: 0,
      startedAt: Date.now(),
      timestamp: jobTimestamp(new Date()),
      interrupted: this.closed,
      skipped: false,
      job,
    };
    this.current = running;
    this.last = running;
    const before = this.selected;
    try {
      const { checkpoint, modules } = job.params;
      // An unknown checkpoint is silently ignored, as Forge does; an old build ignores every override.
      // Without `forge_additional_modules` the modules selected before stay, as in Forge.
      if (checkpoint !== null && !this.settings.ignoreCheckpointOverride) this.select(checkpoint, modules);
      const loaded = await this.load(job.loadMs);
      if (job.params.restoreAfterwards) this.selected = before;
      if (loaded !== "ok") {
        this.recorder.ended(entry, "error");
        return { kind: "error", body: loaded === "failed" ? CLIP_MISSING : MODEL_LOST, entry };
      }
      if (job.fault === "oom" || job.fault === "500") {
        this.recorder.ended(entry, "error");
        return { kind: "error", body: failure(job.fault), entry };
      }
      // Forge checks the flags once the model is loaded, before sampling begins (processing.py): a Skip pressed
      // meanwhile is cleared and sampling goes on; an interrupt stops the job there, and there is no image.
      running.skipped = false;
      const stoppedBeforeSampling = running.interrupted;
      running.phase = "sampling";
      this.samplingSteps = running.steps;
      await this.sample(running);
      const stopped = running.interrupted || running.skipped;
      // Like Forge's VAE decode: sampling is done (at its last step) but the reply is not ready yet.
      if (!stopped) await sleep(this.settings.stepMs * 3);
      running.jobNo = 1;
      if (job.fault === "vaeoom" && !stopped) {
        // Out of memory in the decode, after every step: Forge reports idle, leaves its lock, then answers 500.
        this.recorder.ended(entry, "error");
        return { kind: "error", body: failure("oom"), entry };
      }
      const info = generationInfo(job.params, seed, this.loaded?.model ?? this.model);
      if (job.fault === "noimage") {
        this.recorder.ended(entry, "noimage");
        return { kind: "empty", info, entry };
      }
      // Interrupted before sampling: no image. Mid-sampling: Forge decodes what it has and answers 200 with it.
      if (stoppedBeforeSampling) {
        this.recorder.ended(entry, "interrupted");
        return { kind: "empty", info, entry };
      }
      this.recorder.ended(entry, stopped ? "interrupted" : "completed");
      // Made by the caller once the lock is given back, as Forge encodes after it left `queue_lock`.
      return { kind: "image", encode: () => this.encode(job.params, seed), info, entry };
    } finally {
      this.current = null;
      this.recorder.finished(held);
      if (this.settings.cleanupMs > 0) await sleep(this.settings.cleanupMs);
      release();
      // Forge's UI wraps its jobs in `wrap_gradio_call`, whose `finally` clears the flags once the lock is given back
      // (modules/call_queue.py); an API job's stay until the next job begins.
      if (job.external && job.from !== "api" && this.last === running) {
        running.interrupted = false;
        running.skipped = false;
      }
    }
  }

  /**
   * The set-up phase, Forge's `forge_model_reload`: loads the selection when it differs from `forge_hash`. "failed"
   * when it cannot load; "lost" when it names what `forge_hash` names but a failed load has since dropped that model
   * (Forge then hands on no model at all, and the job fails with an AttributeError).
   */
  private async load(forcedMs: number | undefined): Promise<"ok" | "failed" | "lost"> {
    const wanted = this.selected;
    const switching = !sameSelection(this.forgeHash, wanted);
    const ms = forcedMs ?? (switching ? this.settings.modelLoadMs : 0);
    if (ms > 0) await sleep(ms);
    if (!switching) return this.loaded === null ? "lost" : "ok";
    this.recorder.modelLoaded();
    // Forge drops the old model before it loads the new one.
    this.loaded = null;
    if (this.settings.modularModels.includes(wanted.model.model_name) && wanted.modules.length === 0) {
      // The selection stays (restore is off), so the next job fails too; `forge_hash` still names the old model.
      return "failed";
    }
    // Forge's load hashes a file it had not hashed (`calculate_shorthash`): from now on its title has the hash.
    const loaded = { ...wanted, model: this.hashed(wanted.model) };
    if (this.selected === wanted) this.selected = loaded;
    this.loaded = loaded;
    this.forgeHash = loaded;
    return "ok";
  }

  /** The file as listed once Forge has its SHA-256: titled "file [shorthash]", which is now a name it knows. */
  private hashed(model: SimulatedModel): SimulatedModel {
    if (model.sha256 !== null) return model;
    const now = simulatedModel(model.model_name);
    const at = this.models.indexOf(model);
    if (at >= 0) this.models[at] = now;
    return now;
  }

  private encode(params: Txt2ImgParams, seed: number): Buffer {
    if (this.samplesFormat === "jpg") return SAMPLE_JPEG;
    if (this.samplesFormat === "webp") return SAMPLE_WEBP;
    const size = cappedSize(params.width, params.height, this.settings.maxImageSize);
    return encodePng(size.width, size.height, renderPixels(params.prompt, seed, size.width, size.height));
  }

  private async sample(running: Running): Promise<void> {
    const { fault, onStep, until } = running.job;
    const stopped = () => running.interrupted || running.skipped;
    const hanging = () => fault === "hang" && until?.() !== true;
    // Each step ends a step's time after the one before, not a step's time after its timer fired: a GPU keeps its
    // pace whatever the host's event loop is doing, so a loaded machine delays a generation by one timer's lag, not
    // by one per step.
    let due = performance.now();
    while (!stopped() && (hanging() || running.step < running.steps)) {
      due += this.settings.stepMs * (fault === "slow" ? 10 : 1);
      await sleep(Math.max(0, due - performance.now()));
      if (stopped() || hanging()) continue;
      running.step += 1;
      onStep?.(running.step, running.steps);
    }
  }

  /**
   * Runs `work` under the generation lock, as Forge's refresh routes do (`with self.queue_lock:` in api.py): after
   * a generation that holds it, before one that waits for it, with `/progress` saying idle meanwhile.
   */
  async exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    const release = await this.lock.acquire();
    try {
      return await work();
    } finally {
      release();
    }
  }

  /**
   * Sets the flag; a load runs on regardless and the job stops when sampling would begin, as in Forge. While idle it
   * is set all the same (Forge's `state.interrupt()` does not look whether a job runs): `/progress` shows it until
   * the next job's `state.begin()` clears it.
   */
  interrupt(): void {
    this.flagsNow().interrupted = true;
  }

  /** Forge's Skip: with one image per job it ends the job like an interrupt, but sets `skipped`; idle, as interrupt. */
  skip(): void {
    this.flagsNow().skipped = true;
  }

  /** The flags Forge's `state` holds now: the running job's, else the last job's (or a fresh state's) until one begins. */
  private flagsNow(): { interrupted: boolean; skipped: boolean } {
    return this.current ?? this.last ?? this.idleFlags;
  }

  /** True while an `external` generation (another client's) holds the backend. */
  get runningExternal(): boolean {
    return this.current?.job.external === true;
  }

  /** Stops the running generation and makes waiting ones end at once. */
  close(): void {
    this.closed = true;
    this.interrupt();
  }

  /**
   * Forge's `/progress` reply (`progressapi`): it describes whatever is running, and the last job's flags while idle.
   * `sampling_step` is 0-based, so it ends at `sampling_steps - 1`; `progress` and `eta_relative` are Forge's formula.
   */
  progress(): Record<string, unknown> {
    const running = this.current;
    const flags = running ?? this.last ?? this.idleFlags;
    const sampling = running?.phase === "sampling";
    const jobCount = running ? (sampling ? 1 : -1) : 0;
    const jobNo = running?.jobNo ?? 0;
    // `state.nextjob()` resets it once the image is decoded.
    const samplingStep = sampling && jobNo === 0 ? Math.max(0, running.step - 1) : 0;
    let fraction = 0;
    let eta = 0;
    if (running) {
      fraction = 0.01 + (jobCount > 0 ? jobNo / jobCount : 0);
      if (this.samplingSteps > 0) fraction += (1 / jobCount) * (samplingStep / this.samplingSteps);
      const elapsed = (Date.now() - running.startedAt) / 1000;
      eta = elapsed / fraction - elapsed;
      fraction = Math.min(fraction, 1);
    }
    return {
      progress: fraction,
      eta_relative: eta,
      state: {
        skipped: flags.skipped,
        interrupted: flags.interrupted,
        stopping_generation: false,
        // What `state.begin(job=…)` was given: the API's txt2img, or what another client's job began as.
        job: running ? (running.job.external ? STATE_JOB[running.job.from ?? "ui"] : "scripts_txt2img") : "",
        job_count: jobCount,
        job_timestamp: (running ?? this.last)?.timestamp ?? "0",
        job_no: jobNo,
        sampling_step: samplingStep,
        sampling_steps: this.samplingSteps,
      },
      current_image: null,
      textinfo: null,
    };
  }
}

/** Forge's `state.job_timestamp` for a job begun at `at` (local time, to the second). */
const jobTimestamp = (at: Date): string =>
  [at.getFullYear(), at.getMonth() + 1, at.getDate(), at.getHours(), at.getMinutes(), at.getSeconds()]
    .map((n, i) => String(n).padStart(i === 0 ? 4 : 2, "0"))
    .join("");

/** Who runs another client's generation, as Forge's `state.job` tells it (see `GenerationJob.from`). */
export type ExternalSource = "ui" | "api" | "img2img" | "extras";

const STATE_JOB: Record<ExternalSource, string> = {
  ui: "task(simulated-ui-job)",
  api: "scripts_txt2img",
  img2img: "scripts_img2img",
  extras: "extras",
};

/** Forge's 500 bodies for the faults that fail a generation. */
export const failure = (fault: "oom" | "500"): FailureBody =>
  fault === "oom"
    ? {
        error: "OutOfMemoryError",
        detail: "",
        body: "",
        message: "CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 23.65 GiB total capacity)",
      }
    : { error: "RuntimeError", detail: "", body: "", message: "simulated failure" };

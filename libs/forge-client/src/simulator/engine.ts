import type { Txt2ImgParams } from "./faults";
import { FifoLock } from "./fifo-lock";
import { cappedSize, renderPixels } from "./image";
import { generationInfo } from "./info";
import { matchModel, type SimulatedModel } from "./models";
import { encodePng } from "./png";
import { StatsRecorder, type SimulatorLogEntry } from "./stats";

/** The faults that act inside a generation (the others are answered before one starts). */
export type GenerationFault = "oom" | "500" | "noimage" | "hang" | "slow" | "drop";

/** One generation to run; `external` ones stand for another client's work (`setBusy`). */
export interface GenerationJob {
  readonly params: Txt2ImgParams;
  readonly fault?: GenerationFault | undefined;
  readonly external?: boolean;
  /** Called after each sampling step. */
  readonly onStep?: (step: number, steps: number) => void;
  /** Ends a "hang" generation normally once true (the external work finished). */
  readonly until?: () => boolean;
}

/** How a generation ended, with what the HTTP layer answers. */
export type GenerationOutcome =
  | { readonly kind: "image"; readonly png: Buffer; readonly info: string; readonly entry: SimulatorLogEntry }
  | { readonly kind: "empty"; readonly info: string; readonly entry: SimulatorLogEntry }
  | { readonly kind: "error"; readonly fault: "oom" | "500"; readonly entry: SimulatorLogEntry };

interface Running {
  readonly steps: number;
  step: number;
  interrupted: boolean;
  readonly job: GenerationJob;
}

/** Settings the engine reads on every step, so tests can change them live. */
export interface EngineSettings {
  stepMs: number;
  modelLoadMs: number;
  readonly maxImageSize: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Forge's generation side: a FIFO lock, one running generation, the loaded checkpoint. */
export class SimulatorEngine {
  readonly recorder = new StatsRecorder();
  private readonly lock = new FifoLock();
  private current: Running | null = null;
  private closed = false;

  constructor(
    readonly settings: EngineSettings,
    readonly models: readonly SimulatedModel[],
    public model: SimulatedModel,
  ) {}

  /** Loads a checkpoint, taking `modelLoadMs`; false when no model has that name. */
  async loadModel(name: string): Promise<boolean> {
    const found = matchModel(this.models, name);
    if (!found) return false;
    if (found.title !== this.model.title) {
      await sleep(this.settings.modelLoadMs);
      this.model = found;
      this.recorder.modelLoaded();
    }
    return true;
  }

  /** Waits for the lock like Forge's queue, then generates. */
  async run(job: GenerationJob): Promise<GenerationOutcome> {
    const held = job.external ? undefined : this.recorder.requestHeld();
    const release = await this.lock.acquire();
    const seed = job.params.seed === -1 ? Math.floor(Math.random() * 2 ** 32) : job.params.seed;
    const entry = this.recorder.started(job.params.prompt, seed);
    const running: Running = { steps: job.params.steps, step: 0, interrupted: this.closed, job };
    this.current = running;
    try {
      const previous = this.model;
      // An unknown checkpoint is silently ignored, as Forge does.
      if (job.params.checkpoint !== null) await this.loadModel(job.params.checkpoint);
      if (job.fault === "oom" || job.fault === "500") {
        this.recorder.ended(entry, "error");
        return { kind: "error", fault: job.fault, entry };
      }
      await this.sample(running);
      // Like Forge's VAE decode: sampling is done (progress 1.0) but the reply is not ready yet.
      if (!running.interrupted) await sleep(this.settings.stepMs * 3);
      const info = generationInfo(job.params, seed, this.model);
      if (job.params.restoreAfterwards && previous.title !== this.model.title) await this.loadModel(previous.title);
      if (running.interrupted) {
        this.recorder.ended(entry, "interrupted");
        return { kind: "empty", info, entry };
      }
      if (job.fault === "noimage") {
        this.recorder.ended(entry, "noimage");
        return { kind: "empty", info, entry };
      }
      const size = cappedSize(job.params.width, job.params.height, this.settings.maxImageSize);
      const png = encodePng(size.width, size.height, renderPixels(job.params.prompt, seed, size.width, size.height));
      this.recorder.ended(entry, "completed");
      return { kind: "image", png, info, entry };
    } finally {
      this.current = null;
      this.recorder.finished(held);
      release();
    }
  }

  private async sample(running: Running): Promise<void> {
    const { fault, onStep, until } = running.job;
    const hanging = () => fault === "hang" && until?.() !== true;
    while (!running.interrupted && (hanging() || running.step < running.steps)) {
      await sleep(this.settings.stepMs * (fault === "slow" ? 10 : 1));
      if (running.interrupted || hanging()) continue;
      running.step += 1;
      onStep?.(running.step, running.steps);
    }
  }

  /** Stops whatever runs; later generations are not affected, as in Forge. */
  interrupt(): void {
    if (this.current) this.current.interrupted = true;
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

  /** Forge's `/progress` reply: it describes whatever is running. */
  progress(): Record<string, unknown> {
    const running = this.current;
    const fraction = running ? running.step / running.steps : 0;
    const remainingMs = running ? (running.steps - running.step) * this.settings.stepMs : 0;
    return {
      progress: fraction,
      eta_relative: remainingMs / 1000,
      state: {
        skipped: false,
        interrupted: running?.interrupted ?? false,
        stopping_generation: false,
        job: running ? "txt2img" : "",
        job_count: running ? 1 : 0,
        job_timestamp: "0",
        job_no: 0,
        sampling_step: running?.step ?? 0,
        sampling_steps: running?.steps ?? 0,
      },
      current_image: null,
      textinfo: null,
    };
  }
}

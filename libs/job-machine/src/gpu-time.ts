/** What a generation's GPU time depends on: its size, its sampling steps, and its model. */
export interface GpuWork {
  /** width × height. */
  pixels: number;
  steps: number;
  /** The checkpoint it asks for (null: whatever is loaded); one model's step may cost several times another's. */
  checkpoint?: string | null;
}

/** One finished run, as measured: how long it held its backend, and whether it had to load a checkpoint first. */
export interface GpuRun extends GpuWork {
  /** The backend it ran on (its URL). */
  backend: string;
  /** GPU time: from its start until its backend was free for the next job (see {@link measureRun}); no waiting. */
  ms: number;
  /** From then until it ended (its image written), when known. */
  keepMs?: number | null;
  /** It loaded another checkpoint before it could sample (null: not known, e.g. the first run after a restart). */
  switched: boolean | null;
}

/**
 * A run's GPU time and keep time from what the database holds. The backend is handed to the next job the moment
 * the generation is done, while the image is still being written, so the next start on the same backend, when it
 * came before this run ended, is when its GPU time ended; otherwise nobody was waiting and its end is all there is.
 */
export function measureRun(
  startedAt: number,
  finishedAt: number,
  nextStartOnBackend: number | null,
): { ms: number; keepMs: number | null } {
  const handedOn = nextStartOnBackend !== null && nextStartOnBackend > startedAt && nextStartOnBackend < finishedAt;
  return handedOn
    ? { ms: nextStartOnBackend - startedAt, keepMs: finishedAt - nextStartOnBackend }
    : { ms: finishedAt - startedAt, keepMs: null };
}

/** How much the model remembers, and how fast it forgets. */
export interface GpuTimeModelOptions {
  /** Runs kept per backend (default 64). */
  samplesPerBackend?: number;
  /** After this many newer runs on the same backend, a run counts half as much (default 16). */
  halfLife?: number;
}

interface Sample extends GpuWork {
  /** Milliseconds per megapixel-step, without any checkpoint switch. */
  rate: number;
  /** The backend's run counter when it was learned. */
  n: number;
}

interface BackendHistory {
  samples: Sample[];
  runs: number;
  /** Learned cost of loading another checkpoint (ms); null until a switch was measured. */
  switchMs: number | null;
  /** The checkpoint the backend has loaded as far as its runs tell; null: not known. */
  loaded: string | null;
}

const MEGA = 1_000_000;
/** How wide "similar" is: a run with 1.5× the pixels (or steps) counts e^-1/2 as much as one of the same shape. */
const SIMILAR = Math.log(1.5);
/** Every run counts a little, however unlike: a shape never seen is scaled from the runs there are. */
const FLOOR = 1e-3;
/** A run of another checkpoint counts this much as one of the same (a model never run is scaled from the others). */
const OTHER_MODEL = 0.1;
/** Weight of a new measurement of the switch cost, and of the keep time. */
const SWITCH_ALPHA = 0.3;
/** A measurement this far from the prediction is capped there: one stalled run must not throw every estimate off. */
const OUTLIER = 4;

const workOf = (work: GpuWork) => (Math.max(1, work.pixels) / MEGA) * Math.max(1, work.steps);

/**
 * Learns how long generations take on each backend, from runs that finished, and predicts the GPU time of a job
 * not run yet. A prediction is the job's megapixel-steps times a rate (ms per megapixel-step): the weighted median
 * of the backend's recent runs' rates, each weighted by how recent it is, by how close its size and steps are to
 * the job's, and by whether it used the same checkpoint. Runs of the same shape decide, others scale (a fixed overhead makes small jobs cost more per step),
 * and one odd run (the first after a start, a stall) moves nothing. A job that must load another checkpoint first
 * adds the switch cost learned from runs that did. A backend with no runs yet borrows the others'; with no runs
 * anywhere there is no prediction (null). No I/O, no clock: the host feeds it.
 */
export class GpuTimeModel {
  private readonly histories = new Map<string, BackendHistory>();
  /** Predictions by backend and checkpoint, then by shape (pixels × 256 + steps): a projection asks per waiting job. */
  private readonly cache = new Map<string, Map<string | null, Map<number, number | null>>>();
  private cached = 0;
  private readonly keep: number;
  private readonly halfLife: number;
  private revision = 0;
  private keeping: number | null = null;

  constructor(options: GpuTimeModelOptions = {}) {
    this.keep = Math.max(1, options.samplesPerBackend ?? 64);
    this.halfLife = Math.max(1, options.halfLife ?? 16);
  }

  /** Counts up whenever a prediction may have changed. */
  get version(): number {
    return this.revision;
  }

  /** True once any run has been learned: predictions exist. */
  get known(): boolean {
    for (const history of this.histories.values()) if (history.samples.length > 0) return true;
    return false;
  }

  /**
   * A job with `checkpoint` starts on `backend` (null: it takes whatever is loaded). Returns whether it has to load
   * another checkpoint first (null when the loaded one is not known), and remembers it as loaded from now on.
   */
  start(backend: string, checkpoint: string | null): boolean | null {
    if (checkpoint === null) return false;
    const history = this.history(backend);
    const switched = history.loaded === null ? null : history.loaded !== checkpoint;
    history.loaded = checkpoint;
    return switched;
  }

  /** The backend itself says which checkpoint it has loaded (null: it cannot tell). */
  assume(backend: string, checkpoint: string | null): void {
    this.history(backend).loaded = checkpoint;
  }

  /** The checkpoint `backend` has loaded as far as its runs tell, or null. */
  loaded(backend: string): string | null {
    return this.histories.get(backend)?.loaded ?? null;
  }

  /** How long a job takes to end once its backend is free (its image written): learned across backends; 0 until known. */
  get keepMs(): number {
    return Math.round(this.keeping ?? 0);
  }

  /** Learns from a run that finished. */
  learn(run: GpuRun): void {
    if (!(run.ms >= 0) || !Number.isFinite(run.ms)) return;
    if (run.keepMs != null && run.keepMs >= 0) {
      this.keeping = this.keeping === null ? run.keepMs : this.keeping + SWITCH_ALPHA * (run.keepMs - this.keeping);
    }
    const history = this.history(run.backend);
    const base = this.predictBase(run.backend, run);
    const own = history.samples.length > 0;
    // The switch is what a switched run took beyond the backend's own prediction; another GPU's would mislead.
    if (run.switched === true && base !== null && own) {
      const cost = Math.max(0, run.ms - base);
      history.switchMs = history.switchMs === null ? cost : history.switchMs + SWITCH_ALPHA * (cost - history.switchMs);
    } else {
      const switchMs = run.switched === true ? (this.switchMs(run.backend) ?? 0) : 0;
      let ms = Math.max(1, run.ms - switchMs);
      // Only against the backend's own runs: another GPU may well be four times faster.
      if (base !== null && own) ms = Math.min(base * OUTLIER, Math.max(base / OUTLIER, ms));
      history.runs++;
      const { pixels, steps } = run;
      history.samples.push({
        pixels,
        steps,
        checkpoint: run.checkpoint ?? null,
        rate: ms / workOf(run),
        n: history.runs,
      });
      if (history.samples.length > this.keep) history.samples.shift();
    }
    this.revision++;
    this.cache.clear();
    this.cached = 0;
  }

  /** The expected GPU time (ms) of `work` on `backend`, with a checkpoint switch first when `switched`; null while nothing is known. */
  predict(backend: string, work: GpuWork, switched = false): number | null {
    const base = this.predictBase(backend, work);
    if (base === null) return null;
    return switched ? base + Math.round(this.switchMs(backend) ?? 0) : base;
  }

  /** The learned cost of a checkpoint switch on `backend` (or, while it has none, the others' mean); null if none. */
  switchMs(backend: string): number | null {
    const own = this.histories.get(backend)?.switchMs;
    if (own != null) return own;
    let sum = 0;
    let count = 0;
    for (const history of this.histories.values()) {
      if (history.switchMs !== null) {
        sum += history.switchMs;
        count++;
      }
    }
    return count === 0 ? null : sum / count;
  }

  private predictBase(backend: string, work: GpuWork): number | null {
    let byModel = this.cache.get(backend);
    if (!byModel) this.cache.set(backend, (byModel = new Map()));
    let byShape = byModel.get(work.checkpoint ?? null);
    if (!byShape) byModel.set(work.checkpoint ?? null, (byShape = new Map()));
    const key = work.pixels * 256 + work.steps;
    const cached = byShape.get(key);
    if (cached !== undefined) return cached;
    const own = this.histories.get(backend);
    const rate =
      own && own.samples.length > 0
        ? this.rate([own], work)
        : this.rate(
            [...this.histories.values()].filter((h) => h.samples.length > 0),
            work,
          );
    const predicted = rate === null ? null : Math.round(rate * workOf(work));
    // Shapes are few (sizes and steps people pick); the bound only guards against a client that tries them all.
    if (++this.cached > 10_000) {
      this.cache.clear();
      this.cached = 0;
    }
    byShape.set(key, predicted);
    return predicted;
  }

  /** The weighted median of the runs' rates. */
  private rate(histories: BackendHistory[], work: GpuWork): number | null {
    const weighted: { rate: number; weight: number }[] = [];
    let total = 0;
    const lp = Math.log(Math.max(1, work.pixels));
    const ls = Math.log(Math.max(1, work.steps));
    for (const history of histories) {
      for (const sample of history.samples) {
        const recency = 0.5 ** ((history.runs - sample.n) / this.halfLife);
        const dp = lp - Math.log(Math.max(1, sample.pixels));
        const ds = ls - Math.log(Math.max(1, sample.steps));
        const similarity = Math.exp(-(dp * dp + ds * ds) / (2 * SIMILAR * SIMILAR)) + FLOOR;
        const model = (sample.checkpoint ?? null) === (work.checkpoint ?? null) ? 1 : OTHER_MODEL;
        const weight = recency * similarity * model;
        weighted.push({ rate: sample.rate, weight });
        total += weight;
      }
    }
    if (total <= 0) return null;
    weighted.sort((a, b) => a.rate - b.rate);
    let below = 0;
    for (const { rate, weight } of weighted) {
      below += weight;
      if (below >= total / 2) return rate;
    }
    return weighted.at(-1)?.rate ?? null;
  }

  private history(backend: string): BackendHistory {
    let history = this.histories.get(backend);
    if (!history) {
      history = { samples: [], runs: 0, switchMs: null, loaded: null };
      this.histories.set(backend, history);
    }
    return history;
  }
}

/** How a simulated generation ended ("running" until it does). */
export type SimulatorOutcome = "running" | "completed" | "interrupted" | "error" | "noimage";

/** One generation the simulator executed. */
export interface SimulatorLogEntry {
  readonly prompt: string;
  readonly seed: number;
  /** `override_settings.sd_model_checkpoint` as the request sent it; null when it sent none. */
  readonly checkpoint: string | null;
  readonly startedAt: number;
  endedAt: number | null;
  outcome: SimulatorOutcome;
  /** Whether the reply reached an open connection; null while running or for `setBusy` work. */
  delivered: boolean | null;
  /** When the reply was sent (after the image was encoded, outside the lock); null until then. */
  answeredAt: number | null;
}

/** What the simulator has seen; tests assert on it. */
export interface SimulatorStats {
  /** txt2img requests read and being set up or past it (before `received`: see `setupMs`). */
  readonly arrived: number;
  /** txt2img requests that reached the generation queue (not those answered at once, like 422). */
  readonly received: number;
  readonly started: number;
  readonly completed: number;
  readonly interrupted: number;
  /** Generations that ended in an error (sim:oom, sim:vaeoom, sim:500). */
  readonly failed: number;
  /** Generations executing right now (0 or 1). */
  readonly active: number;
  readonly maxConcurrent: number;
  /** Times a generation began while another was executing; the FIFO lock keeps this 0. */
  readonly overlaps: number;
  /** txt2img requests held right now, waiting or running. */
  readonly queued: number;
  /** The most txt2img requests ever held at once; Anvil must keep this at 1. */
  readonly maxQueued: number;
  /**
   * txt2img requests that arrived while another generation (any client's, loading or sampling) held the backend
   * and so waited hidden in Forge's queue: two generations on one GPU as far as Anvil's guarantees go. Must stay 0.
   */
  readonly waited: number;
  /** Checkpoint loads (POST /options, override_settings, and restoring afterwards). */
  readonly modelLoads: number;
  /** POST /refresh-checkpoints calls (Forge rescans its folder under its generation lock for each). */
  readonly refreshes: number;
  readonly log: readonly SimulatorLogEntry[];
}

/** Counts what the engine does. */
export class StatsRecorder {
  private counts = {
    arrived: 0,
    received: 0,
    started: 0,
    completed: 0,
    interrupted: 0,
    failed: 0,
    modelLoads: 0,
    refreshes: 0,
  };
  private active = 0;
  private maxConcurrent = 0;
  private overlaps = 0;
  private queued = 0;
  private maxQueued = 0;
  private waitedCount = 0;
  private readonly log: SimulatorLogEntry[] = [];

  /** A txt2img request was read; Forge sets it up before it waits for the lock. */
  arrived(): void {
    this.counts.arrived += 1;
  }

  /** A txt2img request entered the queue; pass the token to `finished`. */
  requestHeld(): true {
    this.counts.received += 1;
    this.queued += 1;
    this.maxQueued = Math.max(this.maxQueued, this.queued);
    return true;
  }

  /** A request found the backend busy and waits for the lock. */
  waited(): void {
    this.waitedCount += 1;
  }

  /** A generation begins executing. */
  started(prompt: string, seed: number, checkpoint: string | null): SimulatorLogEntry {
    this.counts.started += 1;
    this.active += 1;
    if (this.active > 1) this.overlaps += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.active);
    const entry: SimulatorLogEntry = {
      prompt,
      seed,
      checkpoint,
      startedAt: Date.now(),
      endedAt: null,
      outcome: "running",
      delivered: null,
      answeredAt: null,
    };
    this.log.push(entry);
    return entry;
  }

  /** A generation reached its outcome. */
  ended(entry: SimulatorLogEntry, outcome: Exclude<SimulatorOutcome, "running">): void {
    entry.endedAt = Date.now();
    entry.outcome = outcome;
    if (outcome === "completed") this.counts.completed += 1;
    else if (outcome === "interrupted") this.counts.interrupted += 1;
    else if (outcome === "error") this.counts.failed += 1;
  }

  /** A generation stopped executing (whatever its outcome). */
  finished(held: true | undefined): void {
    this.active -= 1;
    if (held) this.queued -= 1;
  }

  /** A checkpoint was loaded. */
  modelLoaded(): void {
    this.counts.modelLoads += 1;
  }

  /** The checkpoint folder was read again. */
  refreshed(): void {
    this.counts.refreshes += 1;
  }

  /** A snapshot; log entries are copies. */
  snapshot(): SimulatorStats {
    return {
      ...this.counts,
      active: this.active,
      maxConcurrent: this.maxConcurrent,
      overlaps: this.overlaps,
      queued: this.queued,
      maxQueued: this.maxQueued,
      waited: this.waitedCount,
      log: this.log.map((entry) => ({ ...entry })),
    };
  }
}

import type { EffectRuntime } from "@anvil/job-machine";
import { Duration, Effect, Fiber, Schedule } from "effect";

/**
 * A chore on the database, run at start and then every `everyMs` in the background: one pass at a time, a pass that
 * fails is left to the next one (`pass` says what went wrong itself), and stopping waits for a pass under way
 * instead of leaving it to a closing database.
 */
export class BackgroundPass {
  private fiber: Fiber.Fiber<void> | null = null;

  constructor(
    private readonly runtime: EffectRuntime,
    private readonly everyMs: number,
    private readonly pass: () => Promise<void>,
  ) {}

  start(): void {
    const once = Effect.tryPromise(this.pass).pipe(Effect.ignore, Effect.uninterruptible);
    const every = Schedule.spaced(Duration.millis(this.everyMs));
    this.fiber ??= this.runtime.runFork(once.pipe(Effect.repeat(every), Effect.asVoid));
  }

  /** Stops; a pass under way finishes first. */
  async stop(): Promise<void> {
    if (this.fiber) await this.runtime.runPromise(Fiber.interrupt(this.fiber));
    this.fiber = null;
  }
}

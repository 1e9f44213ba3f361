import { Context, Effect, Semaphore } from "effect";
import { defaultRuntime } from "./effect-runtime";
import type { EffectRuntime } from "./effect-runtime";
import type { Clock } from "./job";

/** What one backend (GPU) is doing, as the pool sees it. */
export interface GpuSlot {
  readonly busy: boolean;
  /** When the current holder took the permit (epoch ms), or null when free. */
  readonly since: number | null;
}

/** The GPU permits: one semaphore with one permit per backend. */
export interface GpuPoolService {
  readonly size: number;
  /** Runs `effect` while holding backend `index`'s permit; the permit is released on every exit. */
  readonly withGpu: (index: number) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>;
  /** Each backend's permit holder, for status pages. */
  readonly slots: () => readonly GpuSlot[];
  /** Completes once every permit is free, i.e. every generation and its finalizers have ended. */
  readonly drain: Effect.Effect<void>;
}

/** Builds a pool with one permit for each of `backends` GPUs; `now` stamps when a permit was taken. */
const make = (backends: number, now: Clock = Date.now): Effect.Effect<GpuPoolService> =>
  Effect.gen(function* () {
    const semaphores = yield* Effect.forEach(Array.from({ length: backends }), () => Semaphore.make(1));
    const since: (number | null)[] = semaphores.map(() => null);
    const semaphoreAt = (index: number): Semaphore.Semaphore => {
      const semaphore = semaphores[index];
      if (!semaphore) throw new RangeError(`No backend #${index}; the pool has ${backends}`);
      return semaphore;
    };
    return {
      size: backends,
      withGpu:
        (index) =>
        <A, E, R>(effect: Effect.Effect<A, E, R>) =>
          semaphoreAt(index).withPermits(1)(
            Effect.sync(() => {
              since[index] = now();
            }).pipe(
              Effect.andThen(effect),
              Effect.ensuring(
                Effect.sync(() => {
                  since[index] = null;
                }),
              ),
            ),
          ),
      slots: () => since.map((at) => ({ busy: at !== null, since: at })),
      drain: Effect.forEach(semaphores, (semaphore) => semaphore.withPermits(1)(Effect.void), {
        concurrency: "unbounded",
        discard: true,
      }),
    };
  });

/** The service key for the GPU permits. */
export class GpuPool extends Context.Service<GpuPool, GpuPoolService>()("anvil/GpuPool") {
  /** A pool for `backends` GPUs, outside any layer (the scheduler holds it directly). */
  static readonly make = make;
  /** A synchronous pool, for hosts that are not inside an Effect. */
  static readonly makeSync = (backends: number, now?: Clock, runtime: EffectRuntime = defaultRuntime): GpuPoolService =>
    runtime.runSync(make(backends, now));
}

import { Layer, ManagedRuntime } from "effect";

/**
 * The Effect runtime a job service runs its programs on: generations under the GPU permits, the journal's writes,
 * backend probes, event pruning, the orphan sweep. One per service, made where the service is wired and handed to
 * each part, so that every program runs with the same services; a part made alone (a test) gets
 * {@link defaultRuntime}.
 */
export type EffectRuntime = ManagedRuntime.ManagedRuntime<never, never>;

/** A runtime with Effect's own services and nothing else (the service needs no more: its I/O is injected). */
export const makeEffectRuntime = (): EffectRuntime => ManagedRuntime.make(Layer.empty);

/** The runtime of the parts that were not given one. */
export const defaultRuntime: EffectRuntime = makeEffectRuntime();

import { isApiTxt2img } from "@anvil/forge-client";
import type { ForgeClient, ForgeError } from "@anvil/forge-client";
import { defaultRuntime, modelOf } from "@anvil/job-machine";
import type { EffectRuntime } from "@anvil/job-machine";
import { Data, Duration, Effect, Fiber, Latch, Schedule } from "effect";
import { untilIdle } from "./until-idle";
import type { LogHook } from "./log-hook";

/** A backend's health as `health` and `queue.status` report it. */
export interface BackendHealth {
  url: string;
  healthy: boolean;
  /** Why the last probe failed, in words; null while healthy. */
  lastError: string | null;
  /** Why it takes no job, in a word; null while healthy. */
  unavailable: BackendUnavailable | null;
  /** The job Anvil runs there sets up and loads its checkpoint (30–60 s for Flux), before it samples. */
  loadingModel: boolean;
}

/**
 * Why a backend takes no job: not asked yet (a server's first moment as leader), busy with a generation that is not
 * this Anvil's (a person in Forge's own UI, another client of its API, or one being interrupted), or not answering.
 */
export type BackendUnavailable = "unprobed" | "busy-elsewhere" | "unreachable";

/** What the monitor tells the scheduler. */
export interface BackendMonitorHooks {
  up: (backend: number) => void;
  down: (backend: number) => void;
  /** Whether Anvil itself has a generation on this backend right now. */
  isOurs: (backend: number) => boolean;
  /** The model a backend has loaded (see `modelOf`; null when it cannot be read), told just before it is up. */
  loaded?: (backend: number, model: string | null) => void;
  log?: LogHook;
  /** Where the probes run (default the shared `defaultRuntime`). */
  runtime?: EffectRuntime;
}

/** A probe found the backend still busy with a generation that is not Anvil's, after it was told to stop. */
class BusyWithOthers extends Data.TaggedError("BusyWithOthers")<{ message: string }> {}

/** Why a backend is not up while another client's generation through the API runs on it. */
const BUSY_WITH_ANOTHER_CLIENT =
  "busy with a generation another client sent through its API (not one this Anvil left there: another Anvil, or a script, on this FORGE_URL?); waiting for it to end. Give each GPU one queue: two that share it slow each other";

/**
 * Why a backend is not up while a job Anvil never sends runs on it (see `isApiTxt2img`): a person's generation in
 * Forge's own UI, or another client's img2img or extras. Forge's name for the job is not repeated: it is the
 * backend's text.
 */
const busyWithOthers = (job: string | null): string => {
  const what = job?.startsWith("task(")
    ? "a generation started in Forge's own UI"
    : job === "scripts_img2img"
      ? "an img2img another client sent through its API"
      : job === "extras"
        ? "an extras job (upscaling), from another client of its API or Forge's own UI"
        : "a job that is not a txt2img, so not this Anvil's";
  return `busy with ${what}; waiting for it to end (Anvil does not interrupt work that is not its own)`;
};

/** The model Forge's options say is selected: the one its next generation without a checkpoint uses. */
const selectedModel = (options: Record<string, unknown>): string | null => {
  const checkpoint = options["sd_model_checkpoint"];
  const modules = options["forge_additional_modules"];
  if (typeof checkpoint !== "string" || checkpoint === "") return null;
  return modelOf({
    checkpoint,
    modules: Array.isArray(modules) ? modules.filter((m): m is string => typeof m === "string") : [],
  });
};

/** One backend as the monitor follows it. */
interface BackendState {
  forge: ForgeClient;
  healthy: boolean;
  lastError: string | null;
  unavailable: BackendUnavailable | null;
  loadingModel: boolean;
  upLatch: Latch.Latch;
}

/**
 * Probes every backend with backoff and keeps the scheduler's view of them true.
 *
 * Before a backend is first marked up, and whenever it comes back, the monitor asks it whether it is busy, and
 * marks it up only once it is idle. Forge keeps generating after its client is gone, so a generation sent through
 * the API that this Anvil left there is interrupted: one of a job the database held as running there when this
 * server's term began (a previous life of this server, or a server of the cluster that was killed or cut off), or one
 * of this server's that was running there when the backend went away. Any other is another client's (another Anvil
 * or a script on the same FORGE_URL), and is waited out, as one a person started in Forge's own UI is.
 */
export class BackendMonitor {
  /** Each backend's client and health, in the order of `backends`. */
  private readonly states: BackendState[];
  private fiber: Fiber.Fiber<void> | null = null;
  /** The term this monitor served ended (see `release`). */
  private released = false;
  private readonly runtime: EffectRuntime;
  /** The backends where a generation of this Anvil's may have been left running (see the class's comment). */
  private readonly leftThere = new Set<number>();

  constructor(
    private readonly backends: readonly ForgeClient[],
    private readonly hooks: BackendMonitorHooks,
    private readonly intervalMs = 2_000,
  ) {
    this.runtime = hooks.runtime ?? defaultRuntime;
    this.states = backends.map((forge) => ({
      forge,
      healthy: false,
      lastError: "not probed yet",
      unavailable: "unprobed",
      loadingModel: false,
      upLatch: Latch.makeUnsafe(false),
    }));
  }

  /**
   * Starts probing every backend in the background, the first probes `afterMs` from now: no backend is up before.
   * `leftThere`: the backends where the database held a job as running when this term began.
   */
  start(afterMs = 0, leftThere: Iterable<number> = []): void {
    for (const backend of leftThere) this.leftThere.add(backend);
    const watchAll = Effect.forEach(this.states, (state, i) => this.watch(state, i), {
      concurrency: "unbounded",
      discard: true,
    });
    this.fiber ??= this.runtime.runFork(
      afterMs > 0 ? Effect.sleep(Duration.millis(afterMs)).pipe(Effect.andThen(watchAll)) : watchAll,
    );
  }

  /** Stops probing. */
  async stop(): Promise<void> {
    if (this.fiber) await this.runtime.runPromise(Fiber.interrupt(this.fiber));
    this.fiber = null;
  }

  /** Every backend's health. */
  health(): BackendHealth[] {
    return this.backends.map((b, i) => ({
      url: b.baseUrl,
      healthy: this.states[i]?.healthy ?? false,
      lastError: this.states[i]?.lastError ?? null,
      unavailable: this.states[i]?.unavailable ?? "unprobed",
      loadingModel: this.states[i]?.loadingModel ?? false,
    }));
  }

  /** Anvil's job on `backend` sets up and loads its checkpoint there, or no longer does (see `health`). */
  loadingModel(backend: number, loading: boolean): void {
    const state = this.states[backend];
    if (state) state.loadingModel = loading;
  }

  /**
   * This server's term as the cluster's leader is over: its calls to the backends are cut off (the backends are the
   * next leader's), and what that does to them is no news of the backends. Nothing is marked down from now on.
   */
  release(): void {
    this.released = true;
  }

  /** Marks a backend down after a call found it unreachable; the probe loop brings it back. */
  markDown(backend: number, reason: string): void {
    const state = this.states[backend];
    if (!state?.healthy || this.released) return;
    state.healthy = false;
    state.lastError = reason;
    state.unavailable = "unreachable";
    // Forge goes on without its client: what this server ran there may still run when the backend is back.
    if (this.hooks.isOurs(backend)) this.leftThere.add(backend);
    Latch.closeUnsafe(state.upLatch);
    this.hooks.down(backend);
    this.hooks.log?.("backend down", { backend: this.backends[backend]?.baseUrl, reason }, "warn");
  }

  /** Completes once the backend is healthy again. */
  awaitUp(backend: number): Effect.Effect<void> {
    return this.states[backend]?.upLatch.await ?? Effect.void;
  }

  private watch(state: BackendState, index: number): Effect.Effect<void> {
    const { forge } = state;
    const { hooks, leftThere } = this;
    const probe = Effect.gen(function* () {
      const progress = yield* forge.progress();
      if (state.healthy) return;
      if (progress.busy && !hooks.isOurs(index) && !isApiTxt2img(progress)) {
        // Its probe fails (said once in the log) until that job ends; probes back off meanwhile.
        return yield* new BusyWithOthers({ message: busyWithOthers(progress.job) });
      }
      if (progress.busy && !hooks.isOurs(index)) {
        if (!leftThere.has(index)) return yield* new BusyWithOthers({ message: BUSY_WITH_ANOTHER_CLIENT });
        hooks.log?.(
          "backend busy with a generation through its API that this Anvil left there (a server that stopped, or the backend went away mid-run); interrupting it",
          { backend: forge.baseUrl },
          "warn",
        );
        yield* forge.interrupt();
        // Forge stops at its next step: wait for that here, not for the next probe, which may be backed off by
        // seconds after an outage.
        yield* untilIdle(forge, { throughErrors: false }).pipe(
          Effect.catchTag("StillBusy", () =>
            Effect.fail(
              new BusyWithOthers({ message: "busy with an earlier generation; interrupted it, waiting until idle" }),
            ),
          ),
        );
      }
      if (hooks.loaded) {
        // Read while the backend is not up yet, so no job of ours can be changing it meanwhile.
        const options = yield* Effect.option(forge.options());
        hooks.loaded(index, options._tag === "Some" ? selectedModel(options.value) : null);
      }
      state.healthy = true;
      state.lastError = null;
      state.unavailable = null;
      leftThere.delete(index);
      Latch.openUnsafe(state.upLatch);
      hooks.up(index);
      hooks.log?.("backend up", { backend: forge.baseUrl });
    });
    const failed = (error: ForgeError | BusyWithOthers) =>
      Effect.sync(() => {
        const { message } = error;
        // Said once per new reason (wrong credentials, no --api, refused): a backend that never comes up says why.
        if (message !== state.lastError && !state.healthy) {
          hooks.log?.("backend probe failed", { backend: forge.baseUrl, error: message }, "warn");
        }
        state.lastError = message;
        if (state.healthy) this.markDown(index, message);
        state.unavailable = error._tag === "BusyWithOthers" ? "busy-elsewhere" : "unreachable";
      });
    // Probes back off from 100 ms to 10 s while a backend is down, and run every interval while it is up. A backend
    // that answers but is busy with someone else's work is asked again every second: it is there, and the line waits.
    const untilHealthy = probe.pipe(
      Effect.tapError(failed),
      Effect.retry({
        while: (error) => error._tag === "BusyWithOthers",
        schedule: Schedule.spaced(Duration.seconds(1)),
      }),
      Effect.retry(
        Schedule.min([Schedule.exponential(Duration.millis(100), 2), Schedule.spaced(Duration.seconds(10))]),
      ),
    );
    // The retry never gives up, so no error can come out of it.
    return untilHealthy.pipe(
      Effect.andThen(Effect.sleep(Duration.millis(this.intervalMs))),
      Effect.forever,
      Effect.orDie,
    );
  }
}

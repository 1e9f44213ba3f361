import { isApiTxt2img } from "@anvil/forge-client";
import type { ForgeClient, ForgeError } from "@anvil/forge-client";
import { Data, Duration, Effect, Schedule } from "effect";

/**
 * How long to wait for a backend to finish a generation it was told to stop (or that failed). An interrupt cannot
 * cut a model load short (Forge reports `job_count` -1 for its 30-60 s, more on a slow disk), so this outlasts one.
 */
const IDLE_WITHIN = Duration.minutes(10);

/** The backend still reported busy when {@link untilIdle} gave up. */
export class StillBusy extends Data.TaggedError("StillBusy")<Record<never, never>> {}

/** One poll found the backend busy: polled again, until {@link untilIdle} gives up. */
class Busy extends Data.TaggedError("Busy")<Record<never, never>> {}

/** How long polls may keep failing before a backend that stopped answering is left to the monitor. */
const ANSWER_WITHIN_MS = 5_000;

/**
 * Polls Forge's progress every 250 ms until it reports idle (`job_count` 0: a load is busy too), for at most ten
 * minutes (then `StillBusy`). Forge goes on for a moment after an interrupt, for the rest of a load, and after a
 * failure or a client that left. With `throughErrors`, a poll that fails is retried like a busy answer until the
 * backend has not answered for 5 s (it is then taken for gone: the monitor probes it, and interrupts whatever it
 * runs before it is used again); without, its error ends the wait. With `interruptApiJob`, a generation sent
 * through the API that Forge runs and that nobody has interrupted yet is interrupted (never one from Forge's own
 * UI): the caller holds the GPU, so it is the one the caller gave up on.
 */
export const untilIdle = (
  forge: ForgeClient,
  { throughErrors, interruptApiJob = false }: { throughErrors: boolean; interruptApiJob?: boolean },
): Effect.Effect<void, ForgeError | StillBusy> =>
  Effect.suspend(() => {
    let answeredAt = performance.now();
    return forge.progress().pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          answeredAt = performance.now();
        }),
      ),
      Effect.flatMap((progress) => {
        if (!progress.busy) return Effect.void;
        const stop = interruptApiJob && isApiTxt2img(progress) && !progress.interrupted;
        return (stop ? Effect.ignore(forge.interrupt()) : Effect.void).pipe(Effect.andThen(Effect.fail(new Busy())));
      }),
      Effect.retry({
        schedule: Schedule.spaced(Duration.millis(250)),
        while: (e) => e._tag === "Busy" || (throughErrors && performance.now() - answeredAt < ANSWER_WITHIN_MS),
      }),
      // A `Busy` is retried for as long as the wait lasts: none is left when it gives up.
      Effect.catchTag("Busy", () => Effect.fail(new StillBusy())),
      Effect.timeoutOrElse({ duration: IDLE_WITHIN, orElse: () => Effect.fail(new StillBusy()) }),
    );
  });

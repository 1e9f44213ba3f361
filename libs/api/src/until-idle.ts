import type { ForgeClient } from "@anvil/forge-client";
import { Data, Duration, Effect, Schedule } from "effect";

/** How long to wait for a backend to finish a generation it was told to stop (or that failed). */
const IDLE_WITHIN = Duration.seconds(30);

/** The backend still reported busy when {@link untilIdle} gave up. */
export class StillBusy extends Data.TaggedError("StillBusy")<Record<never, never>> {}

/**
 * Polls Forge's progress every 250 ms until it reports idle, for at most 30 s (then `StillBusy`). Forge goes on
 * for a moment after an interrupt, and after a failure or a client that left. With `throughErrors`, a poll that
 * fails is retried like a busy answer; without, its error ends the wait.
 */
export const untilIdle = (
  forge: ForgeClient,
  { throughErrors }: { throughErrors: boolean },
): Effect.Effect<void, unknown> =>
  forge.progress().pipe(
    Effect.flatMap((progress) => (progress.busy ? Effect.fail("busy" as const) : Effect.void)),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(250)), while: (e) => throughErrors || e === "busy" }),
    Effect.timeoutOrElse({ duration: IDLE_WITHIN, orElse: () => Effect.fail(new StillBusy()) }),
  );

import { defaultRuntime } from "@anvil/job-machine";
import type { EffectRuntime } from "@anvil/job-machine";
import { Duration, Effect } from "effect";

/** How long a health check waits for the database to answer before it says the database is down. */
export const DATABASE_CHECK_DEADLINE_MS = 2_000;

/** What says whether the database is there for this server. */
export interface DatabaseCheck {
  /** A read that also tells whether writes would be taken: false while the database is read-only. */
  takesWrites: () => Promise<boolean>;
  /** Whether this server's last writes failed and are being retried (a follower writes none). */
  writesFailing?: (() => boolean) | undefined;
  /** Default {@link DATABASE_CHECK_DEADLINE_MS}. */
  deadlineMs?: number | undefined;
}

/**
 * Whether the database is there for this server, as `/healthz` and `health` both say it: none of its writes is
 * failing, and it answers a read within the deadline saying that it takes writes. The read is what tells an idle
 * server (or a follower, or a leader between two writes) that the database went away or read-only: it has no
 * writes that would.
 */
export function databaseAvailable(check: DatabaseCheck, runtime: EffectRuntime = defaultRuntime): Promise<boolean> {
  if (check.writesFailing?.()) return Promise.resolve(false);
  return runtime.runPromise(
    Effect.tryPromise(check.takesWrites).pipe(
      Effect.timeout(Duration.millis(check.deadlineMs ?? DATABASE_CHECK_DEADLINE_MS)),
      Effect.match({ onSuccess: (writable) => writable, onFailure: () => false }),
    ),
  );
}

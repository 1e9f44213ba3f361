import { databaseErrorText, isFenced } from "@anvil/persistence";
import { Data } from "effect";

/** No job, conversation or message with that id. */
export class NotFound extends Data.TaggedError("NotFound")<{ message: string }> {}

/** The job's state forbids the action (e.g. cancelling a finished job). */
export class Conflict extends Data.TaggedError("Conflict")<{ message: string }> {}

/** An input that passed the schema but is wrong for this server (e.g. an unknown checkpoint). */
export class Invalid extends Data.TaggedError("Invalid")<{ message: string; field: string }> {}

/** A dependency (the database, the backend) cannot answer now; the call may be retried. */
export class Unavailable extends Data.TaggedError("Unavailable")<{ message: string; cause?: unknown }> {}

/** A resume cursor older than the retained event history. */
export class HistoryGone extends Data.TaggedError("HistoryGone")<{ message: string }> {}

/** A subscription's reader left more events unread than it may (see MAX_UNREAD in job-stream.ts). */
export class FellBehind extends Data.TaggedError("FellBehind")<{ message: string }> {}

/** The caller's user was removed while the call was on its way (after its admission, before it was carried out). */
export class UserGone extends Data.TaggedError("UserGone")<{ message: string }> {}

/** The caller has as many jobs waiting as one user may (MAX_QUEUED_PER_USER). */
export class TooMany extends Data.TaggedError("TooMany")<{ message: string }> {}

/**
 * Why the database cannot take a write now, in a user's words, and when to try again: its disk is full
 * (PostgreSQL's disk_full, or the embedded database's files), it is read-only (a standby after a failover, 25006), it
 * cannot be reached, or it refused a write of this server's term as the cluster's leader, which is over.
 */
export const databaseUnavailable = (cause: unknown): { reason: string; again: string } => {
  // The database answered: it refused a write of a term that is over (a leader stopped or cut off, another took
  // over). Said as the database being away, an operator went looking for an outage that was a hand-over.
  if (isFenced(cause)) {
    return { reason: "This server no longer leads the cluster (another server took over)", again: "shortly" };
  }
  const text = cause === undefined ? "" : databaseErrorText(cause);
  if (/\b(ENOSPC|53100)\b|no space left on device/i.test(text)) {
    return { reason: "The database cannot write right now: its disk is full", again: "once there is space" };
  }
  if (/\b25006\b|read-only transaction/i.test(text)) {
    return { reason: "The database takes no writes right now (it is read-only)", again: "shortly" };
  }
  return { reason: "The database is not reachable right now", again: "shortly" };
};

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

/** The caller has as many jobs waiting as one user may (MAX_QUEUED_PER_USER). */
export class TooMany extends Data.TaggedError("TooMany")<{ message: string }> {}

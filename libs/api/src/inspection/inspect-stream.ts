import { tracked } from "@trpc/server";
import type { TrackedEnvelope } from "@trpc/server";
import { HistoryGone } from "../errors";
import type { Inspector } from "./inspector";
import { toRecord } from "./record";
import type { InspectionRecord } from "./record";

/** Which inspection events a subscription watches, and where it resumes. */
export interface InspectStreamInput {
  jobId?: string | undefined;
  lastEventId?: string | null | undefined;
}

/**
 * `debug.inspect`: every kept event after `lastEventId` (or the whole ring for a new subscriber), then live
 * events, each as `tracked("<instance>:<seq>", record)`. Nothing is buffered per subscriber: it reads the ring
 * from its cursor whenever something new is recorded, so a subscriber that falls further behind than the ring
 * reaches gets HistoryGone ("reload") instead of a silent gap, as does a cursor from another server process.
 */
export async function* inspectStream(
  inspector: Inspector,
  input: InspectStreamInput,
  signal: AbortSignal | undefined,
): AsyncGenerator<TrackedEnvelope<InspectionRecord>> {
  let cursor = 0;
  if (input.lastEventId) {
    const seq = inspector.seqOf(input.lastEventId);
    if (seq === null) {
      throw new HistoryGone({
        message: `Inspection event id ${input.lastEventId} is not from this server process; reload to start from the current ring`,
      });
    }
    cursor = seq;
  } else {
    cursor = Math.max(0, inspector.stats().oldestSeq - 1);
  }
  while (!signal?.aborted) {
    // Taken before reading, so that an event recorded while this batch is being sent wakes the loop at once.
    const changed = inspector.changed(signal);
    const upTo = inspector.latestSeq;
    for (const record of inspector.after(cursor, input.jobId)) {
      if (signal?.aborted) return;
      yield tracked(inspector.eventId(record.seq), toRecord(record));
    }
    // Everything up to `upTo` has been read (a job's stream skips the other jobs' events), so the cursor moves
    // past them: a quiet job's subscriber is not told to reload just because other jobs filled the ring.
    cursor = upTo;
    await changed;
  }
}

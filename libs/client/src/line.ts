import { applyLineEvent as applyToPosition } from "@anvil/job-machine/line-change";
import { applyLineTiming as timingAt } from "@anvil/job-machine/line-timing";
import type { AnvilOutputs } from "./types";

// The line's helpers for clients of `jobs.events` (docs/API.md, "Line events" and "Estimates"), typed by what the
// stream sends, so that the published declarations name no workspace package; the code is the server's own.

type JobStreamEvent = AnvilOutputs["jobs"]["events"] extends AsyncIterable<{ data: infer Event }> ? Event : never;

/** What `jobs.events` without a `jobId` sends instead of a snapshot per waiting job whose position changed. */
export type LineEvent = Extract<JobStreamEvent, { kind: "line" }>;
/** One change of the line in a {@link LineEvent}, in positions as they were just before it. */
export type LineChange = NonNullable<LineEvent["changes"]>[number];
/** When the line's positions are expected to get a GPU and to end, as a {@link LineEvent} carries it. */
export type LineTiming = NonNullable<LineEvent["timing"]>;
/** A waiting job's estimates as a client holds them. */
export interface HeldEstimates {
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

/**
 * A held position (1 = next to start) after `event`: the new position, 0 when the job left the line, or null when
 * the client must read it again (`jobs.get`): a reorder touched it, or the event did not list its changes.
 */
export function applyLineEvent(position: number, event: LineEvent): number | null {
  return applyToPosition(position, event);
}

/**
 * A held waiting job's estimates at its new `position` by a line event's `timing`: the start from the timing, the
 * end as far after it as the job's last snapshot said, or the timing's end for that position when it said none.
 */
export function applyLineTiming(held: HeldEstimates, position: number, timing: LineTiming | null): HeldEstimates {
  return timingAt(held, position, timing);
}

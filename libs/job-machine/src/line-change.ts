import type { LineShift } from "./fair-line";
import type { LineTiming } from "./line-timing";

/**
 * One change of the waiting line, in positions (1 = next to start) as they were just before the change.
 *
 * This is the one place where a change of the line is described: the scheduler's line (FairLine: users take
 * turns, or plain FIFO) says what each mutation did as a {@link LineShift}, which {@link toLineChanges} turns into
 * these; the scheduler reports each through its `reportLineChange` action, and `jobs.events` sends them to clients as they are (see docs/API.md,
 * "Line events"). A client that holds some waiting jobs with their positions derives the new positions from
 * the change alone:
 * - `remove`: the job at `at` left the line (it started, or was cancelled); every job behind it moves up one.
 * - `insert`: a job entered at `at` (at the end for a submission in FIFO order, anywhere in a fair line, at 1 for
 *   a job that runs again); the job that was at `at` and every one behind it move back one.
 * - `reorder`: the jobs at positions `from`..`to` changed places among themselves (e.g. one user's own jobs after
 *   a priority submission or a move); the set of positions is the same, but which job holds which is not: a client
 *   reads the ones it holds in that range again (`jobs.get`).
 */
export type LineChange =
  { op: "remove"; at: number } | { op: "insert"; at: number } | { op: "reorder"; from: number; to: number };

/**
 * The line changes that say what `shift` did to a line of `sizeBefore` jobs, in order.
 * - Only removals (a job started or was cancelled and nobody else moved): one `remove` per old position, highest
 *   first, so each is still exact when applied in order.
 * - Only insertions (a job joined and nobody else moved): one `insert` per new position, lowest first.
 * - Jobs that stayed but changed places (a priority submission renumbers its owner's jobs; a start passes the
 *   turn, so its owner's other jobs move back a round; a move): a `reorder` of the positions from the first one
 *   touched. Positions ahead of it are unchanged; from there a client reads the jobs it holds again. When the line
 *   also grew or shrank, the reorder runs to the end of the old line and the count is fixed at its end (inserts or
 *   removes after the reorder, which no held position inside the reorder is affected by).
 */
export function toLineChanges(shift: LineShift, sizeBefore: number): LineChange[] {
  const { removed, inserted } = shift;
  if (inserted.length === 0) return [...removed].sort((a, b) => b - a).map((at) => ({ op: "remove", at }));
  if (removed.length === 0) {
    return inserted
      .map((p) => p.at)
      .sort((a, b) => a - b)
      .map((at) => ({ op: "insert", at }));
  }
  const touched = [...removed, ...inserted.map((p) => p.at)];
  const from = Math.min(...touched);
  const grown = inserted.length - removed.length;
  if (grown === 0) return [{ op: "reorder", from, to: Math.max(...touched) }];
  const changes: LineChange[] = [{ op: "reorder", from, to: Math.max(from, sizeBefore) }];
  const sizeAfter = sizeBefore + grown;
  for (let i = 0; i < -grown; i++) changes.push({ op: "remove", at: sizeAfter + 1 });
  for (let i = 0; i < grown; i++) changes.push({ op: "insert", at: sizeBefore + 1 + i });
  return changes;
}

/** The scheduler's hook for changes of the line; called synchronously, in order, as the line changes. */
export type LineChangeListener = (change: LineChange) => void;

/** One change of the line as `jobs.events` sends it: runs of the same change are folded into one with a count. */
export type LineEventChange =
  | { op: "remove"; at: number; count: number }
  | { op: "insert"; at: number; count: number }
  | { op: "reorder"; from: number; to: number };

/**
 * The compact event `jobs.events` sends without a `jobId` filter instead of one snapshot per waiting job whose
 * position changed: what happened to the line between version `from` and `version` (see docs/API.md, "Line events").
 * A client at version `from` applies `changes` in order to the positions it holds; a client at any other version,
 * or given `changes: null` (too many to list), reads the positions it shows again. `timing` says when the
 * positions are expected to start from then on (see line-timing.ts): an event with no changes (`from` = `version`)
 * only brings new timing.
 */
export interface LineEvent {
  kind: "line";
  from: number;
  version: number;
  changes: LineEventChange[] | null;
  /** When each position is expected to get a GPU; null while nothing is known (nothing learned yet, paused). */
  timing: LineTiming | null;
}

/**
 * Applies a line event to one position a client holds (1 = next): the new position, 0 when the job left the line,
 * or null when it must be read again (a reorder touched it, or the event did not list its changes).
 */
export function applyLineEvent(position: number, event: LineEvent): number | null {
  if (event.changes === null) return null;
  let current = position;
  for (const change of event.changes) {
    if (current === 0) return 0;
    if (change.op === "remove") {
      if (current >= change.at + change.count) current -= change.count;
      else if (current >= change.at) current = 0;
    } else if (change.op === "insert") {
      if (current >= change.at) current += change.count;
    } else if (current >= change.from && current <= change.to) {
      return null;
    }
  }
  return current;
}

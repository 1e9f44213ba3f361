/**
 * When the waiting line's positions are expected to get a GPU, in a few numbers: `jobs.events` sends it with each
 * line event (see docs/API.md, "Estimates"), so a client derives the estimates of the jobs it holds from their new
 * positions without one snapshot per waiting job. No imports: the web app bundles this file alone.
 */
export interface LineTiming {
  /** When the job at position 1 is expected to get a GPU (ISO-8601). */
  at: string;
  /**
   * `[position, ms after at]`, by position: the projected start of the job at that position. Exact at the positions
   * listed (1..8, then 16, 32, 64 … and the last), linear in between.
   */
  starts: [number, number][];
}

/** Positions 1..8 are listed one by one: they are the ones people watch, and where one job's size shows most. */
const EXACT = 8;

/**
 * The timing of a line whose job at position p (1-based) is expected to start at `starts[p - 1]` (epoch ms, never
 * decreasing); null when those starts are not known (nothing learned yet, the queue paused, no backend up).
 */
export function toLineTiming(starts: readonly number[] | null): LineTiming | null {
  if (starts === null || starts.length === 0) return null;
  const first = starts[0] ?? 0;
  const knots: [number, number][] = [];
  const at = (position: number) => knots.push([position, Math.round((starts[position - 1] ?? first) - first)]);
  for (let position = 1; position <= Math.min(EXACT, starts.length); position++) at(position);
  for (let position = EXACT * 2; position < starts.length; position *= 2) at(position);
  if (starts.length > EXACT) at(starts.length);
  return { at: new Date(first).toISOString(), starts: knots };
}

/** When the job at `position` (1-based) is expected to get a GPU by `timing` (epoch ms), or null when not known. */
export function startFromTiming(position: number, timing: LineTiming | null): number | null {
  if (timing === null || position < 1) return null;
  const base = Date.parse(timing.at);
  const { starts } = timing;
  let before: [number, number] | undefined;
  for (const knot of starts) {
    if (knot[0] === position) return base + knot[1];
    if (knot[0] > position) {
      if (!before) return base + knot[1];
      const share = (position - before[0]) / (knot[0] - before[0]);
      return Math.round(base + before[1] + share * (knot[1] - before[1]));
    }
    before = knot;
  }
  if (!before) return null;
  // Behind the last position listed (a job that joined after the timing was made): one more place per place.
  const previous = starts.at(-2);
  const perPlace = previous ? (before[1] - previous[1]) / Math.max(1, before[0] - previous[0]) : 0;
  return Math.round(base + before[1] + (position - before[0]) * perPlace);
}

/** A queued job's estimates as the client holds them. */
export interface HeldEstimates {
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

/**
 * A held queued job's estimates at its new `position` by `timing`: the start from the timing, the finish that many
 * ms later as its snapshot said (its own GPU time does not depend on its place). Null when the snapshot had no
 * finish to keep while the timing now knows the start: read that job again (`jobs.get`).
 */
export function applyLineTiming(
  held: HeldEstimates,
  position: number,
  timing: LineTiming | null,
): HeldEstimates | null {
  const start = startFromTiming(position, timing);
  if (start === null) return { estimatedStartAt: null, estimatedFinishAt: null };
  const { estimatedStartAt, estimatedFinishAt } = held;
  if (estimatedStartAt === null || estimatedFinishAt === null) return null;
  const runMs = Date.parse(estimatedFinishAt) - Date.parse(estimatedStartAt);
  return { estimatedStartAt: new Date(start).toISOString(), estimatedFinishAt: new Date(start + runMs).toISOString() };
}

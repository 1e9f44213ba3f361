/**
 * When the waiting line's positions are expected to get a GPU and to end, in a few numbers: `jobs.events` sends it
 * with each line event (see docs/API.md, "Estimates"), so a client derives the estimates of the jobs it holds from
 * their new positions without one snapshot per waiting job. No imports: the web app bundles this file alone.
 */
export interface LineTiming {
  /** When the job at position 1 is expected to get a GPU (ISO-8601). */
  at: string;
  /**
   * `[position, start, end]`, by position, start and end in ms after `at`: when the job at that position is expected
   * to get a GPU and to end. Exact at the positions listed (1..8, then 16, 32, 64 … and the last), linear between.
   */
  places: [number, number, number][];
}

/** Positions 1..8 are listed one by one: they are the ones people watch, and where one job's size shows most. */
const EXACT = 8;

/**
 * The timing of a line whose job at position p (1-based) is expected to start at `starts[p - 1]` (epoch ms, never
 * decreasing) and end at `ends[p - 1]`; null when those are not known (nothing learned yet, the queue paused, no
 * backend up).
 */
export function toLineTiming(line: { starts: readonly number[]; ends: readonly number[] } | null): LineTiming | null {
  if (line === null || line.starts.length === 0) return null;
  const { starts, ends } = line;
  const first = starts[0] ?? 0;
  const places: [number, number, number][] = [];
  const at = (position: number) => {
    const start = starts[position - 1] ?? first;
    places.push([position, Math.round(start - first), Math.round((ends[position - 1] ?? start) - first)]);
  };
  for (let position = 1; position <= Math.min(EXACT, starts.length); position++) at(position);
  for (let position = EXACT * 2; position < starts.length; position *= 2) at(position);
  if (starts.length > EXACT) at(starts.length);
  return { at: new Date(first).toISOString(), places };
}

/**
 * When the job at `position` (1-based) is expected to get a GPU and to end by `timing` (epoch ms), or null when not
 * known. Between two listed positions both go linearly; behind the last one (a job that joined after the timing was
 * made) they go on at the pace of the last stretch.
 */
export function placeFromTiming(position: number, timing: LineTiming | null): { start: number; end: number } | null {
  if (timing === null || position < 1) return null;
  const base = Date.parse(timing.at);
  const { places } = timing;
  let lo: [number, number, number] | undefined;
  let hi: [number, number, number] | undefined;
  for (const place of places) {
    if (place[0] >= position) {
      hi = place;
      break;
    }
    lo = place;
  }
  if (hi && (hi[0] === position || !lo)) return { start: base + hi[1], end: base + hi[2] };
  if (!lo) return null;
  // Between lo and hi, or past the last place at the pace of the stretch before it.
  const [from, to] = hi ? [lo, hi] : [places.at(-2) ?? lo, lo];
  const share = to[0] === from[0] ? 0 : (position - from[0]) / (to[0] - from[0]);
  return {
    start: Math.round(base + from[1] + share * (to[1] - from[1])),
    end: Math.round(base + from[2] + share * (to[2] - from[2])),
  };
}

/** A queued job's estimates as the client holds them. */
export interface HeldEstimates {
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
}

/**
 * A held queued job's estimates at its new `position` by `timing`: the start from the timing, the end that many ms
 * later as its snapshot said (its own GPU time does not depend on its place), or, when its snapshot knew no end,
 * the timing's end for that position.
 */
export function applyLineTiming(held: HeldEstimates, position: number, timing: LineTiming | null): HeldEstimates {
  const place = placeFromTiming(position, timing);
  if (place === null) return { estimatedStartAt: null, estimatedFinishAt: null };
  const { estimatedStartAt, estimatedFinishAt } = held;
  const end =
    estimatedStartAt === null || estimatedFinishAt === null
      ? place.end
      : place.start + Date.parse(estimatedFinishAt) - Date.parse(estimatedStartAt);
  return { estimatedStartAt: new Date(place.start).toISOString(), estimatedFinishAt: new Date(end).toISOString() };
}

import { createSignal, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";

/** The sizes the composer offers; 512×512 is for quick tests. */
export const SIZE_PRESETS = [
  { label: "Square", width: 1024, height: 1024 },
  { label: "Portrait", width: 832, height: 1216 },
  { label: "Landscape", width: 1216, height: 832 },
  { label: "Small", width: 512, height: 512 },
] as const;

/** "1024×1024". */
export const formatSize = (width: number, height: number): string => `${width}×${height}`;

/** A duration as people read it: "0:07", "1:05", "1:02:09". */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const s = String(total % 60).padStart(2, "0");
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/** Milliseconds between two ISO times (or `to` = now). */
export const msBetween = (from: string, to: string | number): number =>
  (typeof to === "number" ? to : Date.parse(to)) - Date.parse(from);

/** "#3 in queue". */
/**
 * A waiting job's place: "#3 in queue". A snapshot replayed from the event log of a job that waits again was stored
 * before its place was known (0); the job's current one follows it on the stream, and meanwhile it is "In queue".
 */
export const formatPosition = (position: number): string => (position > 0 ? `#${position} in queue` : "In queue");

/**
 * A prompt cut to a few words for what a screen reader says of its job (an announcement, a button's name): a prompt
 * may run to 4,000 characters, and the card shows it whole.
 */
export const shortPrompt = (prompt: string, max = 60): string => {
  const flat = prompt.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).trimEnd()}…`;
};

/**
 * What a control does, and for a screen reader the job it does it to ("Cancel: a lighthouse at dusk"): read out of
 * the card, in a list of the page's buttons or progress bars, ten "Cancel"s say nothing of which is which.
 */
export const actionName = (label: string, prompt: string): string => `${label}: ${shortPrompt(prompt)}`;

/**
 * "Cancelled", or "Cancelled by <name>" where someone other than its owner (an admin) cancelled the job. A snapshot
 * logged before the server kept `cancelledBy` (an event replayed after an upgrade) has none.
 */
export const cancelledWords = (job: { owner: string; cancelledBy?: string | null }): string =>
  typeof job.cancelledBy === "string" && job.cancelledBy !== job.owner
    ? `Cancelled by ${job.cancelledBy}`
    : "Cancelled";

/**
 * "moved in the line by <name>" where someone other than its owner (an admin) moved the waiting job with `jobs.move`;
 * null otherwise, and for a snapshot from a server that did not keep `movedBy`.
 */
export const movedWords = (job: { owner: string; movedBy?: string | null }): string | null =>
  typeof job.movedBy === "string" && job.movedBy !== job.owner ? `moved in the line by ${job.movedBy}` : null;

/** "9,000": a count as the app writes every count, in English digits with a separator, whatever the browser's locale. */
export const wholeNumber = (n: number): string => n.toLocaleString("en");

/** "1 job", "3 jobs", "9,000 jobs": `n` with the word that goes with it. */
export const counted = (n: number, one: string, many: string): string => `${wholeNumber(n)} ${n === 1 ? one : many}`;

// One wording of estimates for the web app and the CLI: the published client's.
export { dueClock, formatEstimate, formatRemaining } from "@anvil/client";

/** A backend URL without its scheme, for a compact label. */
export const backendLabel = (url: string): string => url.replace(/^https?:\/\//, "").replace(/\/$/, "");

/** One ticking clock per interval, shared by every owner that reads it: n cards cost one timer, not n. */
const shared = new Map<number, { now: Accessor<number>; users: number; stop: () => void }>();

/**
 * The current time, ticking every `intervalMs` while the owner lives. Owners with the same interval share one timer
 * and one signal, so a conversation of 3,000 waiting cards updates its estimates in one task a second (each card had
 * its own `setInterval`: 3,000 tasks a second kept the main thread busy for seconds on end).
 */
export function sharedNow(intervalMs = 1000): Accessor<number> {
  let clock = shared.get(intervalMs);
  if (!clock) {
    const [now, setNow] = createSignal(Date.now());
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    clock = { now, users: 0, stop: () => clearInterval(timer) };
    shared.set(intervalMs, clock);
  }
  const held = clock;
  held.users++;
  onCleanup(() => {
    if (--held.users === 0) {
      held.stop();
      shared.delete(intervalMs);
    }
  });
  return held.now;
}

import type { Accessor } from "solid-js";
import { sharedNow, formatElapsed, msBetween } from "../lib/format";

/**
 * The time since `since`, ticking every second while shown; on `now`, a clock the caller shares among many (a
 * timer for each of hundreds of rows makes the page lay itself out many times a second).
 */
export function Elapsed(props: { since: string; now?: Accessor<number> }) {
  const now = props.now ?? sharedNow();
  return <time class="elapsed">{formatElapsed(msBetween(props.since, now()))}</time>;
}

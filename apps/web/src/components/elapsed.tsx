import { createNow, formatElapsed, msBetween } from "../lib/format";

/** The time since `since`, ticking every second while shown. */
export function Elapsed(props: { since: string }) {
  const now = createNow();
  return <time class="elapsed">{formatElapsed(msBetween(props.since, now()))}</time>;
}

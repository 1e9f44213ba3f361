import { createMemo } from "solid-js";
import { storedDueMemory } from "../lib/due-memory";
import type { DueJob } from "../lib/due-memory";
import { sharedNow, dueClock, formatEstimate } from "../lib/format";

/**
 * A job's expected start or end, counting down every second while shown: "starts in ~40 s", "ready in ~1 min";
 * "ready any moment" once due, and "taking longer than expected" once it has been due for half a minute. The server
 * keeps a late estimate at "now", so the browser remembers since when it has seen it due (see `storedDueMemory`):
 * a reload, another tab or this card made again does not start the half minute over. A job that was late before
 * any page of this browser saw it cannot be told apart (its estimate is "now" like that of one due this moment), so
 * its half minute counts from then.
 */
export function Estimate(props: { kind: "start" | "finish"; at: string; job: DueJob }) {
  const now = sharedNow();
  // A new clock for a new run of the job (put back in the line, run again): its estimate is due anew.
  const due = createMemo(() => dueClock(storedDueMemory(props.job, props.kind)));
  const text = () => formatEstimate(props.kind, props.at, now(), due()(props.at, now()));
  return (
    <time class="job-card__eta" dateTime={props.at} title={new Date(props.at).toLocaleTimeString()}>
      {text()}
    </time>
  );
}

import { createNow, dueClock, formatEstimate } from "../lib/format";

/**
 * A job's expected start or end, counting down every second while shown: "starts in ~40 s", "ready in ~1 min";
 * "ready any moment" once due, and "taking longer than expected" once it has been due for half a minute (the
 * server keeps a late estimate at "now", so the card remembers since when it has been due).
 */
export function Estimate(props: { kind: "start" | "finish"; at: string }) {
  const now = createNow();
  const due = dueClock();
  const text = () => formatEstimate(props.kind, props.at, now(), due(props.at, now()));
  return (
    <time class="job-card__eta" dateTime={props.at} title={new Date(props.at).toLocaleTimeString()}>
      {text()}
    </time>
  );
}

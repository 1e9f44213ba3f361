import { createNow, formatEstimate } from "../lib/format";

/** A job's expected start or end, counting down every second while shown: "starts in ~40 s", "ready in ~1 min". */
export function Estimate(props: { kind: "start" | "finish"; at: string }) {
  const now = createNow();
  return (
    <time class="job-card__eta" dateTime={props.at} title={new Date(props.at).toLocaleTimeString()}>
      {formatEstimate(props.kind, props.at, now())}
    </time>
  );
}

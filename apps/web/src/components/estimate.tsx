import { createNow, DUE_MS, formatEstimate } from "../lib/format";

/**
 * A job's expected start or end, counting down every second while shown: "starts in ~40 s", "ready in ~1 min";
 * "ready any moment" once due, and "taking longer than expected" once it has been due for half a minute (the
 * server keeps a late estimate at "now", so the card remembers since when it has been due).
 */
export function Estimate(props: { kind: "start" | "finish"; at: string }) {
  const now = createNow();
  let dueSince: number | null = null;
  const text = () => {
    const at = now();
    if (Date.parse(props.at) - at >= DUE_MS) dueSince = null;
    else dueSince ??= at;
    return formatEstimate(props.kind, props.at, at, dueSince);
  };
  return (
    <time class="job-card__eta" dateTime={props.at} title={new Date(props.at).toLocaleTimeString()}>
      {text()}
    </time>
  );
}

/**
 * A time still to come, as rough as an estimate is: "~40 s" (to 5 s) under a minute, "~3 min" under an hour, then
 * "~2 h"; null when it is (nearly) here.
 */
export function formatRemaining(ms: number): string | null {
  if (ms < 2_500) return null;
  const seconds = Math.round(ms / 5_000) * 5;
  if (seconds < 60) return `~${seconds} s`;
  const minutes = Math.round(ms / 60_000);
  if (minutes < 60) return `~${minutes} min`;
  return `~${Math.round(ms / 3_600_000)} h`;
}

/** "starts in ~40 s" / "ready in ~1 min" for an estimate `at` (ISO), seen at `now`; "… any moment" once it is due. */
export function formatEstimate(kind: "start" | "finish", at: string, now: number): string {
  const remaining = formatRemaining(Date.parse(at) - now);
  const verb = kind === "start" ? "starts" : "ready";
  return remaining === null ? `${verb} any moment` : `${verb} in ${remaining}`;
}

/** A job's estimate in words as it stands: when a queued job starts, when a running one is ready; null when unknown. */
export function jobEstimate(
  job: { status: string; estimatedStartAt: string | null; estimatedFinishAt: string | null },
  now: number,
): string | null {
  if (job.status === "queued" && job.estimatedStartAt) return formatEstimate("start", job.estimatedStartAt, now);
  if (job.status === "processing" && job.estimatedFinishAt) return formatEstimate("finish", job.estimatedFinishAt, now);
  return null;
}

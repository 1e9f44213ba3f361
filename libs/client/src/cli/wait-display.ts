import { SingleBar } from "cli-progress";
import { dueClock, jobEstimate } from "../estimate";
import type { Job } from "../types";

/** "queued, position 3", or the status; with `estimate`, ", starts in ~40 s" / ", ready in ~1 min" when known. */
const phaseOf = (job: Job, due?: ReturnType<typeof dueClock>): string => {
  // 0: a snapshot of a job that waits again, replayed from before its place was known; its place follows.
  const phase = job.status === "queued" && job.queuePosition > 0 ? `queued, position ${job.queuePosition}` : job.status;
  const when = due ? jobEstimate(job, Date.now(), due) : null;
  return when ? `${phase}, ${when}` : phase;
};

/** Shows a waiting job: its place in line, then its progress. */
export interface WaitDisplay {
  update(job: Job): void;
  stop(): void;
}

/** A terminal: one line that is redrawn, a position first and then cli-progress's bar. */
export function terminalDisplay(stream: NodeJS.WriteStream): WaitDisplay {
  const bar = new SingleBar({
    stream,
    format: "{phase} |{bar}| {percentage}%",
    barCompleteChar: "█",
    barIncompleteChar: "░",
    hideCursor: true,
    clearOnComplete: false,
  });
  let started = false;
  const due = dueClock();
  return {
    update: (job) => {
      const phase = phaseOf(job, due);
      if (!started) bar.start(100, job.progress, { phase });
      else bar.update(job.progress, { phase });
      started = true;
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Not a terminal (a pipe, a log): one plain line for each change of status, position or tenth of progress, with the estimate. */
export function plainDisplay(write: (line: string) => void): WaitDisplay {
  let last = "";
  const due = dueClock();
  return {
    update: (job) => {
      // A line per change of place, status or tenth of progress; the estimate rides along, never a reason to print.
      const line = job.status === "processing" ? `processing ${Math.floor(job.progress / 10) * 10}%` : phaseOf(job);
      const when = jobEstimate(job, Date.now(), due);
      if (line !== last) {
        write(when ? `${line}, ${when}` : line);
      }
      last = line;
    },
    stop: () => {},
  };
}

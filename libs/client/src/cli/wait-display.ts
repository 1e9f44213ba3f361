import { SingleBar } from "cli-progress";
import type { Job } from "../types";

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
  return {
    update: (job) => {
      const phase = job.status === "queued" ? `queued, position ${job.queuePosition}` : job.status;
      if (!started) bar.start(100, job.progress, { phase });
      else bar.update(job.progress, { phase });
      started = true;
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

/** Not a terminal (a pipe, a log): one plain line for each change of status, position or tenth of progress. */
export function plainDisplay(write: (line: string) => void): WaitDisplay {
  let last = "";
  return {
    update: (job) => {
      const line =
        job.status === "queued"
          ? `queued, position ${job.queuePosition}`
          : job.status === "processing"
            ? `processing ${Math.floor(job.progress / 10) * 10}%`
            : job.status;
      if (line !== last) write(line);
      last = line;
    },
    stop: () => {},
  };
}

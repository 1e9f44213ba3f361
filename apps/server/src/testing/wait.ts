import type { Job, JobStatus } from "@anvil/job-machine";
import type { AnvilClient } from "./clients";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting until ${typeof what === "string" ? what : what()}`);
    }
    await sleep(10);
  }
}

/** Reads the job through the API until `until` holds for it, for up to `timeoutMs`; returns that snapshot. */
export async function waitForJob(
  trpc: AnvilClient,
  jobId: string,
  until: (job: Job) => boolean,
  what = "the job reaches the expected state",
  timeoutMs?: number,
): Promise<Job> {
  let last: Job | undefined;
  await waitFor(
    async () => {
      last = await trpc.jobs.get.query({ jobId });
      return until(last);
    },
    () => `${what} (last seen: ${last ? `${last.status} ${last.progress}% ${last.error ?? ""}` : "nothing"})`,
    timeoutMs,
  );
  return last!;
}

/** Reads the job through the API until it has `status`. */
export const waitForStatus = (trpc: AnvilClient, jobId: string, status: JobStatus): Promise<Job> =>
  waitForJob(trpc, jobId, (job) => job.status === status, `job ${jobId} is ${status}`);

/** Waits `ms`: long enough for anything still in flight (a duplicate event, a late write) to show. */
export const pause = (ms: number): Promise<void> => sleep(ms);

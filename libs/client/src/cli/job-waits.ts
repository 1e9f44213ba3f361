import { constants } from "node:fs";
import { access, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import type { AnvilClient } from "../create-client";
import { SUBMIT_RETRY_MS, pause } from "../submit-safely";
import type { WaitOptions } from "../submit-and-wait";
import { backoffMs, isNetworkError } from "../transient";
import type { Job } from "../types";
import type { CliEnv } from "./env";
import { CliFailure, EXIT, classify } from "./exit-codes";
import { imageHref, unavailableWords } from "./format";
import { plainDisplay, terminalDisplay } from "./wait-display";

/** What the command's waits need of it: where it writes, the server, and whether it prints JSON. */
export interface WaitContext {
  io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; writesFile?: () => void };
  env: CliEnv;
  anvil: () => AnvilClient;
  json: () => boolean;
  print: (text: string) => void;
  printJson: (value: unknown) => void;
}

/**
 * Refuses an `--out` that cannot take the image before anything is submitted or waited for: a folder, a file that
 * cannot be written, or one in a folder that does not exist, is a file or cannot be written. Otherwise a job would
 * hold a GPU for an image with nowhere to go.
 */
export async function checkOut(out: string | undefined): Promise<void> {
  if (out === undefined) return;
  // `--out "$FILE"` with FILE unset: submit would otherwise not wait (an empty --out is no --out) or write nowhere.
  if (out.trim() === "") throw new CliFailure("--out needs a file name (it was given an empty one)", EXIT.usage);
  // Not standard output, as `curl -o -` takes it: the progress goes there. A file named "-" is `--out ./-`.
  if (out === "-") {
    throw new CliFailure(
      '--out - would name a file "-", not standard output (where the progress goes): give the image a file name',
      EXIT.usage,
    );
  }
  const target = resolve(out);
  const folder = dirname(target);
  const existing = await stat(target).catch(() => null);
  if (existing?.isDirectory()) {
    throw new CliFailure(
      `--out ${out} is a folder: give the image a file name in it, e.g. ${join(out, "image.png")}`,
      EXIT.usage,
    );
  }
  if ((await stat(folder).catch(() => null))?.isDirectory() === false) {
    throw new CliFailure(`--out ${out}: ${folder} is a file, not a folder`, EXIT.usage);
  }
  await access(existing ? target : folder, constants.W_OK).catch((error: NodeJS.ErrnoException) => {
    const why = error.code === "ENOENT" ? "does not exist" : "cannot be written";
    throw new CliFailure(
      `--out ${out}: ${existing ? "the file" : "the folder"} ${existing ? target : folder} ${why}`,
      EXIT.usage,
    );
  });
}

/**
 * Runs `run` with a signal that Ctrl-C (or SIGTERM) aborts while it runs: the command stops what it waits for, not the
 * job, and says so itself.
 */
async function interruptible<T>(run: (stopped: AbortSignal) => Promise<T>): Promise<T> {
  const stopped = new AbortController();
  const interrupt = () => stopped.abort();
  process.once("SIGINT", interrupt).once("SIGTERM", interrupt);
  try {
    return await run(stopped.signal);
  } finally {
    process.off("SIGINT", interrupt).off("SIGTERM", interrupt);
  }
}

/**
 * How `submit --wait` and `wait` follow a job for a person or a script: what they say on stderr while the server
 * restarts or the queue is paused, the place in line and the progress bar, then the image or the failure.
 */
export function jobWaits({ io, env, anvil, json, print, printJson }: WaitContext) {
  /**
   * A change sent again while the server restarts (or a cluster is between leaders), with the same key: told on
   * stderr once.
   */
  const sayRetryOnce = () => {
    let told = false;
    return (error: unknown) => {
      if (told) return;
      told = true;
      const seconds = SUBMIT_RETRY_MS / 1000;
      io.stderr.write(`anvil: ${classify(error, env).message}; trying again for up to ${seconds} s (Ctrl-C stops)\n`);
    };
  };

  /**
   * A paused queue starts nothing, nor one whose server cannot store images or is stopping, or whose GPUs all fail to
   * answer: said before a wait, which would otherwise show a place in line that never moves.
   */
  const sayIfStopped = async (): Promise<void> => {
    const status = await anvil()
      .queue.status.query()
      .catch(() => null);
    if (status?.paused) io.stderr.write("anvil: the queue is paused: the job waits until an admin resumes it\n");
    // A server older than the field leaves it out.
    else if (status?.imagesNotStored === true) {
      io.stderr.write(
        "anvil: the server cannot store images (its disk is full or unwritable): no job starts until it can\n",
      );
    } else if (status?.serverStopping === true) {
      io.stderr.write(
        "anvil: the server is stopping: the job waits until Anvil runs again (a restart, or another server)\n",
      );
    } else if (status && status.backends.length > 0 && status.backends.every((backend) => !backend.healthy)) {
      // A server's first moment as leader: it has not asked its GPUs yet, and nothing is known to say.
      if (status.backends.every((backend) => backend.unavailable === "unprobed")) return;
      const why = status.backends.map((backend) => `${backend.url}: ${unavailableWords(backend)}`);
      io.stderr.write(`anvil: no GPU can take it now (${why.join("; ")}): the job waits until one can\n`);
    }
  };
  /**
   * A completed job's image, asked for again while the server is away: one that stops as the job ends (a restart
   * lets running generations finish first) would otherwise fail the command with "Cannot reach Anvil" and exit 3,
   * after it printed "complete", though the image is stored and the server comes back. Said on stderr once; Ctrl-C
   * stops it, saying how to fetch the image later.
   */
  const imageOf = (job: Job, out: string): Promise<Uint8Array> =>
    interruptible(async (stopped) => {
      let told = false;
      for (let attempt = 1; ; attempt++) {
        try {
          return await anvil().image(job, { signal: stopped });
        } catch (error) {
          if (!stopped.aborted && !isNetworkError(error)) throw error;
          if (!stopped.aborted && !told) {
            told = true;
            io.stderr.write(
              `anvil: job ${job.id} completed, but Anvil at ${env.url} went away before its image came; ` +
                "fetching it once the server is back (Ctrl-C stops)\n",
            );
          }
          await pause(backoffMs(attempt), stopped).catch(() => undefined);
          if (stopped.aborted) {
            throw new CliFailure(
              `stopped; job ${job.id} completed: anvil wait ${job.id} --out ${out} fetches its image, at ` +
                imageHref(env.url, job.imageUrl),
              EXIT.interrupted,
            );
          }
        }
      }
    });

  /**
   * Shows a job's wait (its place in line, then its progress) until `wait` resolves with its final state; then writes
   * its image to `out` (or prints where it is served) and fails unless it completed. Ctrl-C (or SIGTERM) stops the
   * wait, not the job: the display gives the terminal back its cursor, and stderr says how to pick the job up again.
   * `onJob` sees the first snapshot, as soon as there is one. A stream that drops (the server down or restarting) is
   * said once on stderr, and again when the job's news comes back: the wait itself goes on by itself.
   */
  const follow = async (
    wait: (options: Required<Pick<WaitOptions, "onUpdate" | "onReconnect">> & { signal: AbortSignal }) => Promise<Job>,
    out: string | undefined,
    onJob?: (job: Job) => void,
  ) => {
    if (out !== undefined) io.writesFile?.();
    const display = json()
      ? undefined
      : io.stdout.isTTY
        ? terminalDisplay(io.stderr.isTTY ? io.stderr : io.stdout)
        : plainDisplay(print);
    let jobId: string | undefined;
    let job: Job;
    let lost = false;
    const onReconnect = (error: unknown) => {
      if (lost) return;
      lost = true;
      // In a cluster the server named may be up, and the leader it forwards the stream to the one that went away.
      const why =
        error === undefined
          ? "the server closed the job's event stream"
          : `lost the event stream from Anvil at ${env.url} (that server, or the cluster's leader behind it, went away)`;
      // On a terminal the bar's line is left as it is, and the message goes below it.
      const below = display && io.stdout.isTTY ? "\n" : "";
      io.stderr.write(`${below}anvil: ${why}; reconnecting by itself (Ctrl-C stops waiting, not the job)\n`);
    };
    try {
      job = await interruptible(async (stopped) => {
        try {
          return await wait({
            onUpdate: (update) => {
              if (jobId === undefined) onJob?.(update);
              jobId = update.id;
              if (lost) io.stderr.write("anvil: reconnected\n");
              lost = false;
              display?.update(update);
            },
            onReconnect,
            signal: stopped,
          });
        } catch (error) {
          if (!stopped.aborted) throw error;
          throw new CliFailure(
            jobId === undefined
              ? "stopped before the server answered the submit: anvil jobs --newest shows whether it took the job"
              : `stopped waiting; job ${jobId} goes on: anvil wait ${jobId} follows it again, anvil cancel ${jobId} stops it`,
            EXIT.interrupted,
          );
        }
      });
    } finally {
      display?.stop();
    }
    let file: string | undefined;
    if (job.status === "complete" && out) {
      file = resolve(out);
      const bytes = await imageOf(job, out);
      await writeFile(file, bytes).catch((error: unknown) => {
        const why = error instanceof Error ? error.message : String(error);
        const image = imageHref(env.url, job.imageUrl);
        throw new CliFailure(
          `Job ${job.id} completed, but its image could not be written to ${file}: ${why}; it is at ${image}`,
          EXIT.failed,
        );
      });
    }
    if (json()) printJson(file ? { ...job, file } : job);
    else if (job.status === "complete") print(file ?? imageHref(env.url, job.imageUrl));
    if (job.status !== "complete") {
      const how =
        job.status === "cancelled" ? `was cancelled${job.cancelledBy ? ` by ${job.cancelledBy}` : ""}` : "failed";
      throw new CliFailure(`Job ${job.id} ${how}${job.error ? `: ${job.error}` : ""}`, EXIT.failed);
    }
  };

  return { sayRetryOnce, sayIfStopped, follow };
}

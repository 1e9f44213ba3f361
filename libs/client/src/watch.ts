import { TRPCClientError } from "@trpc/client";
import type { AnvilTRPCClient } from "./create-client";
import { NOT_TLS_SAID, backoffMs, httpStatusOf, isNotTls } from "./transient";
import { isFinal } from "./types";
import type { Job } from "./types";

/** Options of `watch`. */
export interface WatchOptions {
  /** Stops watching: the iterator ends (it does not throw). */
  signal?: AbortSignal | undefined;
  /** Resume after this event id (one an earlier watch saw) instead of starting from the job's current state. */
  lastEventId?: string | undefined;
  /** Delay before reopening a stream that failed, by attempt (1, 2 …); up to 5 s by default. */
  retryDelayMs?: (attempt: number) => number;
  /**
   * Told each time the stream is to be reopened after it dropped (the server down or restarting, the network gone),
   * with why (an `Error` whose message says so, the stream's own error as its `cause`; the server's own
   * `TRPCClientError` where it answered with a code, e.g. `SERVICE_UNAVAILABLE`; undefined: the server closed it)
   * and the attempt since the stream last worked (1, 2 …).
   */
  onReconnect?: (error: unknown, attempt: number) => void;
}

/** Errors no retry can mend: the request itself is wrong, the token is refused, or the job is not there. */
const FATAL = new Set(["BAD_REQUEST", "NOT_FOUND", "UNAUTHORIZED", "FORBIDDEN"]);
/** Each refusal's tRPC code and JSON-RPC error number, as tRPC would have sent them. */
const FATAL_STATUS: Readonly<Record<number, readonly [code: string, number: number]>> = {
  400: ["BAD_REQUEST", -32600],
  401: ["UNAUTHORIZED", -32001],
  403: ["FORBIDDEN", -32003],
  404: ["NOT_FOUND", -32004],
};
const codeOf = (error: unknown): string | undefined =>
  error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : undefined;

/**
 * A stream refused before tRPC answers (the server's token guard: a wrong token, a user removed mid-wait) fails with
 * "Non-200 status code (401)" (an EventSource) or "Unexpected server response: 401" (Node's `ws` WebSocket) and no
 * tRPC data; it becomes the error tRPC would have sent, so callers see its code.
 */
const refusal = (error: unknown) => {
  // An https:// address of a server that answers in plain HTTP: no reconnect can mend it. A WebSocket's error says so
  // by its code; an EventSource passes on only the words of the request's error (see create-client.ts).
  if (isNotTls(error) || (error instanceof Error && error.message.includes(NOT_TLS_SAID))) return error;
  const httpStatus = httpStatusOf(error);
  const known = httpStatus === undefined ? undefined : FATAL_STATUS[httpStatus];
  if (!known) return undefined;
  const [code, number] = known;
  // The stream's refusal comes without the server's words; a 401 has one cause a caller can mend.
  const why = httpStatus === 401 ? ": the client's token is missing, or is neither API_TOKEN nor a user's token" : "";
  const message = `${code}: Anvil refused the job's event stream (HTTP ${httpStatus})${why}`;
  return TRPCClientError.from(
    { error: { message, code: number, data: { code, httpStatus } } },
    { cause: error instanceof Error ? error : undefined },
  );
};

/**
 * Why a stream dropped, in words a program can show: the EventSource's own error says only "Unknown error" (an error
 * event carries no reason), so it is kept as the cause behind a message that says what happened and that the watch
 * goes on.
 */
const dropped = (error: unknown): Error => {
  const said = error instanceof Error ? error.message : "";
  const why = said && said !== "Unknown error" ? ` (${said})` : "";
  return new Error(
    `the job's event stream dropped${why}: the server, or the cluster's leader behind it, went away or restarted, or ` +
      "the network did; it is reopened by itself from the last event seen",
    { cause: error },
  );
};

/**
 * A job's snapshots as an async iterator, ending after its final one. The stream is reopened from the last event id
 * it saw whenever it drops (a network blip, a server restart), so no status change is missed or seen twice; if the
 * server no longer holds history that old, the stream restarts from the job's current state.
 */
export function watchJob(trpc: AnvilTRPCClient, jobId: string, options: WatchOptions = {}): AsyncIterableIterator<Job> {
  const retryDelay = options.retryDelayMs ?? backoffMs;
  const queue: Job[] = [];
  let failure: unknown;
  let done = false;
  let wake: (() => void) | undefined;
  let cursor = options.lastEventId;
  // The last snapshot queued, as JSON.
  let last: string | undefined;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let current: { unsubscribe(): void } | undefined;

  const notify = () => {
    wake?.();
    wake = undefined;
  };
  const stop = () => {
    done = true;
    clearTimeout(timer);
    current?.unsubscribe();
    // A signal shared by many watches would otherwise keep each one (and its unread snapshots) alive until it goes.
    options.signal?.removeEventListener("abort", stop);
    notify();
  };
  const reopen = (delay: number) => {
    current?.unsubscribe();
    current = undefined;
    if (!done) timer = setTimeout(open, delay);
  };
  const open = () => {
    if (done) return;
    let active = true;
    // Stopped from outside (an abort, the loop left): the stream's end that follows is no drop to report.
    const live = () => active && !done;
    const subscription = trpc.jobs.events.subscribe(
      { jobId, ...(cursor ? { lastEventId: cursor } : {}) },
      {
        onStarted: () => {
          attempt = 0;
        },
        // The EventSource reopens a dropped stream by itself (with the last event id), so a drop reaches here, not
        // onError; so does a WebSocket the server would not open, which the WebSocket client tries again for ever.
        onConnectionStateChange: (state) => {
          if (!live() || state.state !== "connecting" || !state.error) return;
          const refused = refusal(state.error);
          if (refused) {
            active = false;
            failure = refused;
            return stop();
          }
          options.onReconnect?.(dropped(state.error), ++attempt);
        },
        onData: ({ id, data }) => {
          if (!active) return;
          cursor = id;
          // Line events come only without a jobId filter; this stream always has one.
          if ("kind" in data) return;
          // A reopened stream begins with the job's current state after what was missed, which is the last snapshot
          // again when nothing changed meanwhile: it is not yielded twice.
          const snapshot = JSON.stringify(data);
          if (snapshot === last) return;
          last = snapshot;
          queue.push(data);
          if (isFinal(data)) {
            active = false;
            subscription.unsubscribe();
          }
          notify();
        },
        onError: (error) => {
          if (!live()) return;
          active = false;
          const code = codeOf(error);
          if (code === "PRECONDITION_FAILED") {
            cursor = undefined;
            return reopen(0);
          }
          if (code && FATAL.has(code)) {
            failure = error;
            return stop();
          }
          const refused = code ? undefined : refusal(error);
          if (refused) {
            failure = refused;
            return stop();
          }
          // One the server answered with a code (SERVICE_UNAVAILABLE, TOO_MANY_REQUESTS) is told as it came: its
          // words and code are the server's, not a drop's.
          options.onReconnect?.(code ? error : dropped(error), ++attempt);
          reopen(retryDelay(attempt));
        },
        // A live stream does not end by itself: a proxy or a stopping server closed it.
        onComplete: () => {
          if (!live()) return;
          active = false;
          options.onReconnect?.(undefined, ++attempt);
          reopen(retryDelay(attempt));
        },
      },
    );
    current = subscription;
  };

  options.signal?.addEventListener("abort", stop, { once: true });
  if (options.signal?.aborted) done = true;
  else open();

  let finished = false;
  const iterator: AsyncIterableIterator<Job> = {
    [Symbol.asyncIterator]: () => iterator,
    next: async () => {
      while (!finished) {
        const job = queue.shift();
        if (job) {
          if (isFinal(job)) finished = true;
          return { value: job, done: false };
        }
        if (failure !== undefined) {
          finished = true;
          stop();
          throw failure;
        }
        if (done) break;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      stop();
      return { value: undefined, done: true };
    },
    return: async () => {
      finished = true;
      stop();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}

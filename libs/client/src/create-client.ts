import { createTRPCClient, httpBatchLink, httpLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import type { TRPCLink } from "@trpc/client";
import { EventSource as FetchEventSource } from "eventsource";
import type { AnvilRouter } from "./router";
import { submitAndWait, waitForJob } from "./submit-and-wait";
import { NOT_TLS_SAID, isNetworkError, isNotTls, whyUnreachable } from "./transient";
import type { SubmitAndWaitOptions, WaitOptions } from "./submit-and-wait";
import type { Job, SubmitInput } from "./types";
import { watchJob } from "./watch";
import type { WatchOptions } from "./watch";

/** The server takes at most this many calls in one HTTP batch (apps/server MAX_BATCH_CALLS). */
const MAX_BATCH_CALLS = 50;

/**
 * Calls sent each in a request of its own, never batched with others. `cluster.servers` too: a follower answers it
 * alone itself (`self` is the server asked), but forwards a batch to the leader.
 */
const UNBATCHED: ReadonlySet<string> = new Set(["jobs.list", "jobs.submit", "jobs.submitMany", "cluster.servers"]);

/** What {@link createAnvilClient} takes. */
export interface AnvilClientOptions {
  /**
   * The server's base URL, e.g. `http://127.0.0.1:3000` (a trailing `/trpc` is dropped); `""` in a browser page served
   * by Anvil itself. Anything else that does not start with http:// or https:// is refused with a TypeError.
   */
  url: string;
  /** A user's token (or `API_TOKEN`), sent as `Authorization: Bearer`. */
  token?: string | undefined;
  /** The `fetch` to use; the global one by default. */
  fetch?: typeof fetch;
  /**
   * The `EventSource` class for subscriptions. By default the `eventsource` package's, which runs in Node 20 (which
   * has no global one) and in browsers, and can send the token as a header. A browser page that authenticates with
   * a cookie may pass `globalThis.EventSource`.
   */
  EventSource?: typeof globalThis.EventSource;
  /**
   * Carries subscriptions instead of Server-Sent Events, e.g. `wsLink` on one WebSocket: a browser gives one server
   * six HTTP/1.1 connections across all its tabs, and each open stream holds one of them for good.
   */
  subscriptionLink?: TRPCLink<AnvilRouter>;
}

/** The tRPC client for Anvil's router: `client.jobs.submit.mutate(…)`, `client.queue.status.query()` … */
export type AnvilTRPCClient = ReturnType<typeof createTRPCClient<AnvilRouter>>;

/** What {@link createAnvilClient} returns: the typed tRPC client and the helpers most callers want. */
export type AnvilClient = AnvilTRPCClient & {
  /** Submits a job and resolves with it once it is complete, in error or cancelled. */
  submitAndWait(input: SubmitInput, options?: SubmitAndWaitOptions): Promise<Job>;
  /** Resolves with a job submitted earlier once it is complete, in error or cancelled (at once if it is already). */
  wait(jobId: string, options?: WaitOptions): Promise<Job>;
  /** The job's snapshots as they change, ending with its final one; resumes by itself across drops and restarts. */
  watch(jobId: string, options?: WatchOptions): AsyncIterableIterator<Job>;
  /** A finished job's image bytes (PNG). */
  image(job: Pick<Job, "id" | "imageUrl">, options?: { signal?: AbortSignal }): Promise<Uint8Array>;
};

/**
 * The server's base URL that paths such as `/trpc` and a job's `imageUrl` go after: `url` without trailing slashes,
 * and without `/trpc` when it names that path already; any other path (a proxy's prefix) is kept.
 */
export const serverBase = (url: string): string => url.replace(/\/+$/, "").replace(/\/trpc$/, "");

/**
 * A request that got no answer, as an error that names the server and says why: fetch's own "fetch failed" (in a
 * browser "Failed to fetch") names neither, and a service's log then says nothing of which address to check. Its
 * message still begins with fetch's, and the original is its cause; so does one whose https:// address reached a
 * server that answers in plain HTTP (no TLS there: no retry mends it). Anything else (an abort) stays as it was.
 */
const unreachable = (error: unknown, base: string): unknown => {
  if (error instanceof Error && isNotTls(error)) {
    return new TypeError(
      `${error.message}: Anvil at ${base} ${NOT_TLS_SAID}: the server answers in plain HTTP; ` +
        "is its address http://?",
      { cause: error },
    );
  }
  return error instanceof Error && isNetworkError(error)
    ? new TypeError(
        `${error.message}: cannot reach Anvil at ${base || "this page's server"}: ${whyUnreachable(error)}`,
        {
          cause: error,
        },
      )
    : error;
};

/** Creates a client for the Anvil server at `url`. */
export function createAnvilClient(options: AnvilClientOptions): AnvilClient {
  // "127.0.0.1:3000" would make every call fail with "Failed to parse URL", and a watch retry it for ever.
  if (!/^(https?:\/\/|\/|$)/i.test(options.url)) {
    throw new TypeError(
      `createAnvilClient: url must start with http:// or https:// (or be a path in a page served by Anvil); it is "${options.url}"`,
    );
  }
  const base = serverBase(options.url);
  const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const authorization: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  const withAuth: typeof fetch = (input, init) =>
    fetcher(input, { ...init, headers: { ...Object.fromEntries(new Headers(init?.headers)), ...authorization } }).catch(
      (error: unknown) => {
        throw unreachable(error, base);
      },
    );
  const EventSource = options.EventSource ?? (FetchEventSource as unknown as typeof globalThis.EventSource);
  const usesFetch = EventSource === (FetchEventSource as unknown);

  const trpc = createTRPCClient<AnvilRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true:
          options.subscriptionLink ??
          httpSubscriptionLink({
            url: `${base}/trpc`,
            EventSource,
            // The eventsource package reads the stream with fetch, so the token can go in a header.
            ...(usesFetch ? { eventSourceOptions: () => ({ fetch: withAuth }) as EventSourceInit } : {}),
          }),
        // A page of jobs.list (up to 500 jobs), a jobs.submit and a jobs.submitMany (up to 1,000) go alone: the
        // server takes at most 1,000 listed jobs per request and 256 KiB of body, which 40 submits of long prompts
        // batched together exceed; a large body only from a submitMany sent alone.
        false: splitLink({
          condition: (op) => UNBATCHED.has(op.path),
          true: httpLink({ url: `${base}/trpc`, fetch: withAuth }),
          false: httpBatchLink({ url: `${base}/trpc`, fetch: withAuth, maxItems: MAX_BATCH_CALLS }),
        }),
      }),
    ],
  });

  const client = {
    submitAndWait: (input: SubmitInput, opts?: SubmitAndWaitOptions) => submitAndWait(trpc, input, opts),
    wait: (jobId: string, opts?: WaitOptions) => waitForJob(trpc, jobId, opts),
    watch: (jobId: string, opts?: WatchOptions) => watchJob(trpc, jobId, opts),
    image: async (job: Pick<Job, "id" | "imageUrl">, opts?: { signal?: AbortSignal }) => {
      if (!job.imageUrl) throw new Error(`Job ${job.id} has no image (yet)`);
      const response = await withAuth(`${base}${job.imageUrl}`, opts?.signal ? { signal: opts.signal } : {});
      if (!response.ok) {
        // The server says why in the API's error shape ("No such image …", "Unauthorized: …"): passed on.
        const why = await response
          .json()
          .then((body: unknown) => (body as { error?: { message?: unknown } }).error?.message)
          .catch(() => undefined);
        throw new Error(`GET ${job.imageUrl} answered ${response.status}${typeof why === "string" ? `: ${why}` : ""}`);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
  };
  // The helpers sit beside the procedures; the tRPC client is a proxy, so they are looked up first.
  return new Proxy(trpc, {
    get: (target, key, receiver) =>
      Object.hasOwn(client, key) ? client[key as keyof typeof client] : Reflect.get(target, key, receiver),
  }) as AnvilClient;
}

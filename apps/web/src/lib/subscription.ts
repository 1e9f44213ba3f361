import { createEffect, createSignal, on, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";
import { errorCode } from "./errors";

/** What the page tells people about the live stream. */
export type ConnectionState = "connecting" | "live" | "reconnecting";

/** The callbacks a tRPC subscription takes (the subset this primitive uses). */
export interface SubscriptionHandlers<T> {
  onStarted: () => void;
  onData: (value: { id: string; data: T }) => void;
  onError: (error: unknown) => void;
  /** The server ended the stream without an error. */
  onComplete: () => void;
  onConnectionStateChange: (state: { state: "idle" | "connecting" | "pending"; error: unknown }) => void;
}

/** How to open the stream, e.g. `(input, h) => trpc.jobs.events.subscribe(input, h)`. */
export type Subscribe<I, T> = (
  input: I & { lastEventId?: string },
  handlers: SubscriptionHandlers<T>,
) => { unsubscribe: () => void };

/** Options of {@link createSubscription}. */
export interface SubscriptionOptions<I, T> {
  /** The input; the stream is reopened whenever it changes, and closed while it is null. */
  input: Accessor<I | null>;
  subscribe: Subscribe<I, T>;
  onData: (data: T, eventId: string) => void;
  /** Each time a stream is opened (first or again), before anything it sends. */
  onOpen?: () => void;
  /** Where a newly opened stream resumes (e.g. the id a page saw before a reload). */
  resumeFrom?: (input: I) => string | undefined;
  /** The server no longer has the history after our last event id: reload what the page shows. */
  onHistoryGone?: () => void;
  /** Any other failure; the stream is reopened after a delay all the same. */
  onError?: (error: unknown) => void;
  /**
   * The server ended the stream, which it never does by itself while it runs: a proxy cut it, or the sign-in it was
   * opened with ended (signed out, removed). It is reopened after a delay all the same.
   */
  onEnded?: () => void;
  /** Delay before reopening a stream that failed, by attempt (1, 2 …). */
  retryDelayMs?: (attempt: number) => number;
}

const defaultDelay = (attempt: number) => Math.min(10_000, 500 * 2 ** (attempt - 1));
/**
 * How long a live stream whose input changed still says "live" while the new one opens. A page that switches
 * conversations has not lost its connection: its new stream opens within milliseconds, and "Connecting…" then "Live"
 * at each switch was a flicker that a screen reader read out each time.
 */
const SWITCH_GRACE_MS = 1_000;

/**
 * A tRPC subscription as a Solid primitive: opened for the current input, closed in `onCleanup`, reopened by
 * itself (from the last event id it saw) after an error, and its connection state as a signal.
 */
export function createSubscription<I, T>(options: SubscriptionOptions<I, T>) {
  const [reported, setState] = createSignal<ConnectionState>("connecting");
  const [lastEventId, setLastEventId] = createSignal<string | undefined>();
  // The input whose stream the server has started, null while none is: what the stream said it is, not what the page
  // shows (which holds "live" across a switch).
  const [started, setStarted] = createSignal<I | null>(null);
  const retryDelay = options.retryDelayMs ?? defaultDelay;
  // The browser says it lost the network: the page says it is reconnecting at once, where the stream would notice
  // only at its next keep-alive (up to 20 s of "Live" on a page that has no network). Back online, the stream's own
  // state holds again: live if its connection lasted, else whatever its reconnection says.
  const [offline, setOffline] = createSignal(typeof navigator !== "undefined" && navigator.onLine === false);
  if (typeof window !== "undefined") {
    const wentOffline = () => setOffline(true);
    const cameOnline = () => setOffline(false);
    window.addEventListener("offline", wentOffline);
    window.addEventListener("online", cameOnline);
    onCleanup(() => {
      window.removeEventListener("offline", wentOffline);
      window.removeEventListener("online", cameOnline);
    });
  }
  const state = (): ConnectionState => (offline() && reported() === "live" ? "reconnecting" : reported());

  createEffect(
    on(options.input, (input) => {
      if (input === null) return;
      let current: { unsubscribe: () => void } | null = null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let attempt = 0;
      let cursor = options.resumeFrom?.(input);
      setLastEventId(cursor);
      setStarted(null);
      // A live stream switched to another input stays "live" for a moment: it says "connecting" only if the new
      // one has not opened (nor failed, which says so at once) by then.
      let opened = false;
      const grace =
        reported() === "live"
          ? setTimeout(() => !opened && reported() === "live" && setState("connecting"), SWITCH_GRACE_MS)
          : undefined;
      if (grace === undefined) setState("connecting");
      const live = () => {
        opened = true;
        setState("live");
      };

      const open = () => {
        let active = true;
        const handlers: SubscriptionHandlers<T> = {
          onStarted: () => {
            if (!active) return;
            attempt = 0;
            live();
            setStarted(() => input);
          },
          onData: ({ id, data }) => {
            if (!active) return;
            cursor = id;
            setLastEventId(id);
            options.onData(data, id);
          },
          onConnectionStateChange: ({ state: next, error }) => {
            if (!active) return;
            if (next === "pending") live();
            else if (next === "connecting" && error) {
              // The WebSocket closed, or could not open again, and reopens by itself (resuming this stream): the
              // sign-in it was opened with may have ended, which the page must hear of as with a failed stream.
              setState("reconnecting");
              setStarted(null);
              options.onError?.(error);
            }
          },
          onComplete: () => {
            // A live stream never ends by itself; a proxy or a server that closed it cleanly is reconnected to.
            if (!active) return;
            active = false;
            setState("reconnecting");
            setStarted(null);
            options.onEnded?.();
            timer = setTimeout(open, retryDelay(++attempt));
          },
          onError: (error) => {
            if (!active) return;
            active = false;
            setState("reconnecting");
            setStarted(null);
            const historyGone = errorCode(error) === "PRECONDITION_FAILED";
            if (historyGone) {
              cursor = undefined;
              setLastEventId(undefined);
              options.onHistoryGone?.();
            } else {
              options.onError?.(error);
            }
            // Without a cursor the server cannot refuse the resume again, so that reopening need not wait.
            timer = setTimeout(open, historyGone ? 0 : retryDelay(++attempt));
          },
        };
        current?.unsubscribe();
        options.onOpen?.();
        const resume = cursor === undefined ? {} : { lastEventId: cursor };
        const subscription = options.subscribe({ ...input, ...resume }, handlers);
        current = {
          unsubscribe: () => {
            active = false;
            subscription.unsubscribe();
          },
        };
      };
      open();
      onCleanup(() => {
        clearTimeout(timer);
        clearTimeout(grace);
        current?.unsubscribe();
      });
    }),
  );

  return {
    state,
    lastEventId,
    /** The input whose stream the server has started (null while none is): a stream switched stays "live" meanwhile. */
    started,
  };
}

/**
 * Runs `then` each time `connection` comes back to "live" from another state (not at its first value): a message that
 * said the server "cannot be reached" is no longer true then, and goes.
 */
export function whenLiveAgain(connection: () => ConnectionState | undefined, then: () => void): void {
  createEffect(
    on(connection, (state, before) => {
      if (state === "live" && before !== undefined && before !== "live") then();
    }),
  );
}

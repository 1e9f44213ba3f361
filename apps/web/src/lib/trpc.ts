import { createAnvilClient } from "@anvil/client";
import type { AnvilRouter } from "@anvil/client";
import { createWSClient, httpSubscriptionLink, wsLink } from "@trpc/client";
import type { TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import type { Unsubscribable } from "@trpc/server/observable";
import { markUnauthorized } from "./auth";

/** Any 401 from the API means the login cookie is missing or stale: the app shows the login form. */
const fetchWithAuth: typeof fetch = async (input, init) => {
  const response = await fetch(input, { ...init, credentials: "same-origin" });
  if (response.status === 401) markUnauthorized();
  return response;
};

/** Delay before the WebSocket is opened again after it closed, by attempt (0, 1 …): 0.5 s, doubling up to 10 s. */
const reconnectDelay = (attempt: number) => Math.min(10_000, 500 * 2 ** attempt);

/**
 * The page's subscriptions, over one WebSocket to `/trpc` on this page's own origin (which carries the login cookie)
 * once it has opened, or else as Server-Sent Events.
 *
 * As Server-Sent Events each page held two of the six HTTP/1.1 connections a browser gives one server across all
 * its tabs, for good: with three pages open, every other request (a submit, a list) waited for ever. A WebSocket is
 * not counted among them and carries every stream of the page; its client reopens it by itself and resubscribes each
 * stream with the id of the last event it delivered. Where the first WebSocket cannot open (a reverse proxy that
 * does not pass the upgrade on), the page's streams go as Server-Sent Events, as they did before.
 */
const subscriptionLink = (): TRPCLink<AnvilRouter> | undefined => {
  // The component tests (jsdom, no server to connect to) answer streams through `fetch`, as Server-Sent Events.
  if (import.meta.env.MODE === "test" || typeof WebSocket === "undefined") return undefined;
  let decide: (transport: "websocket" | "sse") => void = () => undefined;
  const transport = new Promise<"websocket" | "sse">((resolve) => (decide = resolve));
  let opened = false;
  const client = createWSClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/trpc`,
    retryDelayMs: reconnectDelay,
    onOpen: () => {
      opened = true;
      decide("websocket");
    },
    onClose: () => {
      if (opened) return;
      decide("sse");
      void client.close();
    },
  });
  const webSocket = wsLink<AnvilRouter>({ client });
  const sse = httpSubscriptionLink({ url: "/trpc", EventSource: globalThis.EventSource });
  return (runtime) => {
    const links = { websocket: webSocket(runtime), sse: sse(runtime) };
    return ({ op, next }) =>
      observable((observer) => {
        let subscription: Unsubscribable | null = null;
        let cancelled = false;
        void transport.then((which) => {
          if (!cancelled) subscription = links[which]({ op, next }).subscribe(observer);
        });
        return () => {
          cancelled = true;
          subscription?.unsubscribe();
        };
      });
  };
};

/**
 * The one client of the web app: the published `@anvil/client`, on this page's own origin, authenticated by the
 * login cookie. No data transformer: the API speaks plain JSON (docs/API.md).
 */
const streams = subscriptionLink();
export const trpc = createAnvilClient({
  url: "",
  fetch: fetchWithAuth,
  EventSource: globalThis.EventSource,
  ...(streams ? { subscriptionLink: streams } : {}),
});

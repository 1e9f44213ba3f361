import { createAnvilClient } from "@anvil/client";
import type { AnvilRouter } from "@anvil/client";
import { createWSClient, httpSubscriptionLink, wsLink } from "@trpc/client";
import type { TRPCLink } from "@trpc/client";
import { observable } from "@trpc/server/observable";
import type { Unsubscribable } from "@trpc/server/observable";
import { markUnauthorized } from "./auth";
import { chooseTransport } from "./transport";
import type { Transport } from "./transport";

/** Any 401 from the API means the login cookie is missing or stale: the app shows the login form. */
const fetchWithAuth: typeof fetch = async (input, init) => {
  const response = await fetch(input, { ...init, credentials: "same-origin" });
  if (response.status === 401) markUnauthorized();
  return response;
};

/**
 * Delay before the WebSocket is opened again after it closed, by attempt (0, 1 …): about 0.5 s, doubling up to about
 * 4 s, each spread by a quarter either way so that the pages of a restarted server do not all come back at once. Kept
 * short: a page comes back this long after its server did, or after a sign-in that ended in another tab was renewed
 * (tRPC's client has no way to reopen at once).
 */
const reconnectDelay = (attempt: number) => Math.min(4_000, 500 * 2 ** attempt) * (0.75 + Math.random() / 2);

/**
 * Whether the server answers plain requests and takes this page's sign-in: then a WebSocket that cannot open is
 * refused on the way (a reverse proxy that does not pass upgrades on), not by the server's state or a sign-in.
 */
const upgradesRefused = async (): Promise<boolean> => {
  try {
    const response = await fetch("/auth/status", { credentials: "same-origin" });
    const body = (await response.json()) as { required?: boolean; authorized?: boolean };
    return response.ok && (!body.required || body.authorized === true);
  } catch {
    return false;
  }
};

/**
 * The page's subscriptions, over one WebSocket to `/trpc` on this page's own origin (which carries the login cookie)
 * once it has opened, or else as Server-Sent Events.
 *
 * As Server-Sent Events each page held two of the six HTTP/1.1 connections a browser gives one server across all
 * its tabs, for good: with three pages open, every other request (a submit, a list) waited for ever. A WebSocket is
 * not counted among them and carries every stream of the page; its client reopens it by itself and resubscribes each
 * stream with the id of the last event it delivered, and pings it (a connection that died unseen is noticed).
 *
 * The socket is opened with the page's first stream, once the page is signed in. Where it cannot open twice while
 * the server answers plain requests and takes the sign-in (a reverse proxy that does not pass upgrades on), the
 * page's streams go as Server-Sent Events, as they did before; a server restarting, a cluster between leaders, or a
 * sign-in that ended leave them waiting for the socket.
 */
const subscriptionLink = (): TRPCLink<AnvilRouter> | undefined => {
  // The component tests (jsdom, no server to connect to) answer streams through `fetch`, as Server-Sent Events.
  if (import.meta.env.MODE === "test" || typeof WebSocket === "undefined") return undefined;
  let socket: ReturnType<typeof createWSClient> | null = null;
  let transport: Promise<Transport> | null = null;
  const decided = () =>
    (transport ??= chooseTransport({
      open: ({ opened, closed }) => {
        const client = createWSClient({
          url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/trpc`,
          retryDelayMs: reconnectDelay,
          keepAlive: { enabled: true, intervalMs: 15_000, pongTimeoutMs: 5_000 },
          onOpen: opened,
          onClose: closed,
        });
        socket = client;
        return { close: () => void client.close() };
      },
      upgradesRefused,
    }));
  const sse = httpSubscriptionLink({ url: "/trpc", EventSource: globalThis.EventSource });
  return (runtime) => {
    const overSse = sse(runtime);
    let overSocket: ReturnType<ReturnType<typeof wsLink<AnvilRouter>>> | null = null;
    const overWebSocket = () => {
      // chooseTransport opens the client (`open` above) before it can choose it.
      if (socket === null) throw new Error("the WebSocket was chosen before its client was made");
      return (overSocket ??= wsLink<AnvilRouter>({ client: socket })(runtime));
    };
    return ({ op, next }) =>
      observable((observer) => {
        let subscription: Unsubscribable | null = null;
        let cancelled = false;
        void decided().then((which) => {
          if (cancelled) return;
          const link = which === "sse" ? overSse : overWebSocket();
          subscription = link({ op, next }).subscribe(observer);
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

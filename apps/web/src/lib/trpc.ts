import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from "@trpc/client";
import type { AppRouter } from "@anvil/api";
import { markUnauthorized } from "./auth";

const url = "/trpc";

/** Any 401 from the API means the login cookie is missing or stale: the app shows the login form. */
const fetchWithAuth: typeof fetch = async (input, init) => {
  const response = await fetch(input, { ...init, credentials: "same-origin" });
  if (response.status === 401) markUnauthorized();
  return response;
};

/**
 * The one tRPC client of the web app. No data transformer: the API speaks plain JSON (CONTRACT.md).
 *
 * Subscriptions go over Server-Sent Events (`httpSubscriptionLink`), not WebSocket: an EventSource resumes with
 * `lastEventId` natively (the link keeps the last tracked id and the browser sends `Last-Event-ID` when it
 * reconnects by itself), it passes through plain HTTP proxies, and it carries the login cookie like any request.
 */
export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === "subscription",
      true: httpSubscriptionLink({ url }),
      // The server takes at most 50 calls in one batch (MAX_BATCH_CALLS).
      false: httpBatchLink({ url, fetch: fetchWithAuth, maxItems: 50 }),
    }),
  ],
});

import { createAnvilClient } from "@anvil/client";
import { markUnauthorized } from "./auth";

/** Any 401 from the API means the login cookie is missing or stale: the app shows the login form. */
const fetchWithAuth: typeof fetch = async (input, init) => {
  const response = await fetch(input, { ...init, credentials: "same-origin" });
  if (response.status === 401) markUnauthorized();
  return response;
};

/**
 * The one client of the web app: the published `@anvil/client`, on this page's own origin, authenticated by the
 * login cookie. No data transformer: the API speaks plain JSON (docs/API.md).
 *
 * Subscriptions go over the browser's own EventSource: it resumes with `lastEventId` natively (the link keeps the
 * last tracked id and the browser sends `Last-Event-ID` when it reconnects by itself), it passes through plain HTTP
 * proxies, and it carries the login cookie like any request.
 */
export const trpc = createAnvilClient({ url: "", fetch: fetchWithAuth, EventSource: globalThis.EventSource });

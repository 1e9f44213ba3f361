import type { AppRouter } from "@anvil/api";
import { createTRPCClient, createWSClient, httpLink, httpSubscriptionLink, splitLink, wsLink } from "@trpc/client";
import { EventSource } from "eventsource";
import { expect } from "vitest";
import WebSocket from "ws";
import type { AnvilClient } from "../../testing/clients";

/** Like `httpClient`, with `headers` (e.g. `authorization` or `cookie`) on every request, subscriptions included. */
export function authorizedHttpClient(baseUrl: string, headers: Record<string, string>): AnvilClient {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        true: httpSubscriptionLink({
          url: `${baseUrl}/trpc`,
          EventSource,
          eventSourceOptions: {
            fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...headers } }),
          },
        }),
        false: httpLink({ url: `${baseUrl}/trpc`, headers }),
      }),
    ],
  });
}

/** A `ws` WebSocket that sends `headers` with its upgrade request, as a browser sends its cookies. */
export const webSocketWith = (headers: Record<string, string>) =>
  class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  };

/** Like `wsClient`, its upgrade request carrying `headers`; `close` ends it. */
export function authorizedWsClient(
  baseUrl: string,
  headers: Record<string, string>,
): { client: AnvilClient; close(): Promise<void> } {
  const socket = createWSClient({
    url: `${baseUrl.replace(/^http/, "ws")}/trpc`,
    WebSocket: webSocketWith(headers) as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 50,
  });
  return {
    client: createTRPCClient<AppRouter>({ links: [wsLink({ client: socket })] }),
    close: () => socket.close(),
  };
}

/** What a refused WebSocket upgrade answered: its status, the message its body gives, and its `retry-after`. */
interface UpgradeRefusal {
  status: number;
  message: string;
  retryAfter: string | undefined;
}

/** Asks for a WebSocket upgrade to `url` with `headers`: opened (and closed again), or how it was refused. */
function askUpgrade(url: string, headers: Record<string, string>): Promise<{ opened: true } | UpgradeRefusal> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.once("open", () => {
      socket.close();
      resolve({ opened: true });
    });
    socket.once("unexpected-response", (_, response) => {
      let body = "";
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      response.once("end", () => {
        socket.terminate();
        const said = JSON.parse(body || "{}") as { error?: { message?: string } };
        const retryAfter = response.headers["retry-after"];
        resolve({ status: response.statusCode ?? 0, message: said.error?.message ?? "", retryAfter });
      });
    });
    socket.on("error", (error) => reject(error));
  });
}

/** What a WebSocket upgrade to `url` with `headers` came to: opened, or refused with an HTTP status. */
export async function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ opened: boolean; status: number }> {
  const answer = await askUpgrade(url, headers);
  return "opened" in answer ? { opened: true, status: 101 } : { opened: false, status: answer.status };
}

/** A WebSocket upgrade to `url` with `headers` that must be refused: its status, and the message its body gives. */
export async function upgradeRefusal(url: string, headers: Record<string, string>): Promise<UpgradeRefusal> {
  const answer = await askUpgrade(url, headers);
  if ("opened" in answer) throw new Error("the upgrade was not refused");
  return answer;
}

/** Signs in at `url`'s /auth/login with `token`, as Anvil's own page does; the session cookie (`name=value`) it set. */
export const signIn = async (url: string, token: string): Promise<string> => {
  const login = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ token }),
  });
  expect(login.status).toBe(200);
  return (login.headers.get("set-cookie") ?? "").split(";")[0]!;
};

/** An SSE stream of `path` opened at `url` with `headers`: whether it has ended, what it carried, and `close`. */
export const openStream = async (url: string, path: string, input: unknown, headers: Record<string, string>) => {
  const abort = new AbortController();
  const response = await fetch(`${url}/trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`, {
    headers: { ...headers, accept: "text/event-stream" },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
  const stream = { ended: false, text: "", close: () => abort.abort() };
  void (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) stream.text += decoder.decode(chunk);
    } catch {
      // Aborted by the test.
    }
    stream.ended = true;
  })();
  return stream;
};

/** A WebSocket to `url`'s /trpc with `headers`, once open and subscribed to `jobs.events`: whether it has closed. */
export const openSubscribedSocket = async (url: string, headers: Record<string, string>) => {
  const socket = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`, { headers });
  const state = { closed: false, socket };
  socket.once("close", () => (state.closed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  socket.send(JSON.stringify({ id: 1, method: "subscription", params: { path: "jobs.events", input: {} } }));
  return state;
};

import type { AppRouter } from "@anvil/api";
import { createTRPCClient, createWSClient, httpLink, httpSubscriptionLink, splitLink, wsLink } from "@trpc/client";
import type { TRPCClient } from "@trpc/client";
import { EventSource } from "eventsource";
import WebSocket from "ws";

/** A typed Anvil client. */
export type AnvilClient = TRPCClient<AppRouter>;

/** Queries and mutations over plain HTTP, subscriptions over Server-Sent Events: what the web app does. */
export function httpClient(baseUrl: string): AnvilClient {
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // Node 20 has no global EventSource.
        true: httpSubscriptionLink({ url: `${baseUrl}/trpc`, EventSource }),
        false: httpLink({ url: `${baseUrl}/trpc` }),
      }),
    ],
  });
}

/** Everything over one WebSocket; `socket` is the one open now (wsLink opens another after it closes); `close` ends it. */
export function wsClient(baseUrl: string): {
  client: AnvilClient;
  socket(): WebSocket | undefined;
  close(): Promise<void>;
} {
  const socket = createWSClient({
    url: `${baseUrl.replace(/^http/, "ws")}/trpc`,
    // Node 20 has no global WebSocket; ws implements the same interface.
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    retryDelayMs: () => 50,
  });
  return {
    client: createTRPCClient<AppRouter>({ links: [wsLink({ client: socket })] }),
    socket: () => socket.connection?.ws as unknown as WebSocket | undefined,
    close: () => socket.close(),
  };
}

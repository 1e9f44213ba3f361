import { createServer, connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";

/** What the proxy does with connections. */
export type ProxyMode = "open" | "cut" | "blackhole" | "down";

/** A TCP proxy a test can cut and restore. */
export interface TcpProxy {
  /** The local port clients connect to. */
  readonly port: number;
  /** Connections accepted, in any mode (each a connection attempt by a client). */
  readonly attempts: readonly number[];
  readonly mode: ProxyMode;
  /** Destroys every open connection and, until `restore`, every new one at once (like a restarting server). */
  cut(): void;
  /**
   * Destroys every open connection and closes the port until `restore`, so that new ones are refused
   * (ECONNREFUSED, like a server that is stopped).
   */
  down(): Promise<void>;
  /** Stops forwarding: open connections go silent and new ones are accepted and never answered. */
  blackhole(): void;
  /** Forwards again (on the same port); connections held silent are dropped, so their clients notice and reconnect. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a proxy on 127.0.0.1 (any free port) in front of `target`. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = "open";
  const attempts: number[] = [];
  const pairs = new Set<[Socket, Socket]>();
  const held = new Set<Socket>();

  const dropHeld = () => {
    for (const socket of held) socket.destroy();
    held.clear();
  };
  const dropPairs = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  const server = createServer((client) => {
    attempts.push(Date.now());
    client.on("error", () => client.destroy());
    if (mode === "cut") return void client.destroy();
    if (mode === "blackhole") {
      held.add(client);
      client.on("close", () => held.delete(client));
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    upstream.on("error", drop);
    upstream.on("close", drop);
    client.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(at, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;

  return {
    port,
    attempts,
    get mode() {
      return mode;
    },
    cut: () => {
      mode = "cut";
      dropHeld();
      dropPairs();
    },
    blackhole: () => {
      mode = "blackhole";
      for (const pair of pairs) {
        const [client, upstream] = pair;
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
        pairs.delete(pair);
        held.add(client);
        client.on("close", () => upstream.destroy());
      }
    },
    down: async () => {
      mode = "down";
      dropHeld();
      dropPairs();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    restore: async () => {
      const wasDown = mode === "down";
      mode = "open";
      dropHeld();
      if (wasDown) await listen(port);
    },
    close: async () => {
      const wasDown = mode === "down";
      mode = "down";
      dropHeld();
      dropPairs();
      if (!wasDown) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `databaseUrl` with its host and port replaced by the proxy's on 127.0.0.1. */
export const throughProxy = (databaseUrl: string, proxy: Pick<TcpProxy, "port">): string => {
  const url = new URL(databaseUrl);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return url.toString();
};

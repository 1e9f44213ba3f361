import { getEventListeners } from "node:events";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { createWSClient, wsLink } from "@trpc/client";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createAnvilClient } from "./create-client";
import type { AnvilRouter } from "./router";
import { ADMIN_TOKEN, useAnvilServer } from "./testing/anvil-server";

const quick = { steps: 4, width: 64, height: 64 };

describe("watch and wait against a server that refuses the token", { timeout: 30_000 }, () => {
  const url = useAnvilServer();

  it("fails a watch with UNAUTHORIZED instead of reopening for ever when the token is wrong", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const job = await admin.jobs.submit.mutate({ prompt: "a watch with a wrong token", ...quick });
    const stranger = createAnvilClient({ url: url(), token: "not-a-token-of-anyone" });
    const watching = (async () => {
      for await (const _ of stranger.watch(job.id)) {
        // Nothing comes: the stream is refused.
      }
    })();
    await expect(watching).rejects.toMatchObject({
      data: { code: "UNAUTHORIZED" },
      // Says what to mend, not only the status.
      message:
        "UNAUTHORIZED: Anvil refused the job's event stream (HTTP 401): the client's token is missing, or is " +
        "neither API_TOKEN nor a user's token",
    });
  });

  it("fails a watch at an https:// address of a server that answers in plain HTTP, not reopening for ever", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const job = await admin.jobs.submit.mutate({ prompt: "a watch over the wrong scheme", ...quick });
    const wrongScheme = createAnvilClient({ url: url().replace(/^http:/, "https:"), token: ADMIN_TOKEN });
    let reconnects = 0;
    const watching = (async () => {
      for await (const _ of wrongScheme.watch(job.id, { onReconnect: () => reconnects++ })) {
        // Nothing comes: TLS cannot begin.
      }
    })();
    await expect(watching).rejects.toThrow(/does not speak TLS/);
    expect(reconnects).toBe(0);
  });

  it("fails a watch over a WebSocket the server will not open (a wrong token) with UNAUTHORIZED, not for ever", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const job = await admin.jobs.submit.mutate({ prompt: "a watch over a refused WebSocket", ...quick });
    // As README's "Using the API" shows: Node's `ws` sends the token in the upgrade's headers.
    class WrongToken extends WebSocket {
      constructor(address: string | URL, protocols?: string | string[]) {
        super(address, protocols, { headers: { authorization: "Bearer not-a-token-of-anyone" } });
      }
    }
    const socket = createWSClient({
      url: `${url().replace(/^http/, "ws")}/trpc`,
      WebSocket: WrongToken as unknown as typeof globalThis.WebSocket,
    });
    try {
      const stranger = createAnvilClient({ url: url(), subscriptionLink: wsLink<AnvilRouter>({ client: socket }) });
      const reconnects: unknown[] = [];
      const watching = (async () => {
        for await (const _ of stranger.watch(job.id, { onReconnect: (error) => reconnects.push(error) })) {
          // Nothing comes: the socket is refused.
        }
      })();
      await expect(watching).rejects.toMatchObject({ data: { code: "UNAUTHORIZED", httpStatus: 401 } });
      expect(reconnects).toEqual([]);
    } finally {
      await socket.close();
    }
  });

  it("leaves no listener on a signal shared by many watches and waits once each has ended", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const job = await admin.jobs.submit.mutate({ prompt: "watched many times over one signal", ...quick });
    const shared = new AbortController();
    for (let i = 0; i < 5; i++) {
      const watching = admin.watch(job.id, { signal: shared.signal });
      await watching.next();
      await watching.return?.();
    }
    await admin.wait(job.id, { signal: shared.signal });
    expect(getEventListeners(shared.signal, "abort")).toHaveLength(0);
  });

  it("stops waiting when asked without reporting a reconnect that never happened", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const job = await admin.jobs.submit.mutate({ prompt: "waits until the caller gives up", ...quick });
      const stop = new AbortController();
      const reconnects: unknown[] = [];
      let seen = 0;
      const waiting = admin.wait(job.id, {
        signal: stop.signal,
        onUpdate: () => seen++,
        onReconnect: (error) => reconnects.push(error),
      });
      await expect.poll(() => seen).toBeGreaterThan(0);
      stop.abort();
      await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
      expect(reconnects).toEqual([]);
      // Leaving a watch's loop early is no drop either.
      const watched = admin.watch(job.id, { onReconnect: (error) => reconnects.push(error) });
      for await (const update of watched) {
        expect(update.status).toBe("queued");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(reconnects).toEqual([]);
      await admin.jobs.cancel.mutate({ jobId: job.id });
    } finally {
      await admin.queue.resume.mutate();
    }
  });

  it("fails a wait with UNAUTHORIZED when an admin removes the waiting user", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const user = await admin.users.create.mutate({ name: "removed-mid-wait", admin: false });
      const client = createAnvilClient({ url: url(), token: user.token });
      const job = await client.jobs.submit.mutate({ prompt: "waits on a paused queue", ...quick });
      let seen = 0;
      const waiting = client.wait(job.id, { onUpdate: () => seen++ });
      await expect.poll(() => seen).toBeGreaterThan(0);
      await admin.users.remove.mutate({ name: user.name });
      await expect(waiting).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    } finally {
      await admin.queue.resume.mutate();
    }
  });
});

/** A TCP proxy to `target` whose connections `cut()` drops, as a network blip or a restarting proxy does. */
async function cuttableProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let connections = 0;
  let down = false;
  // What the server sent through it, as text (event streams are not compressed).
  let received = "";
  const proxy = createServer((inbound) => {
    connections++;
    if (down) return void inbound.destroy();
    const outbound = connect(Number(port), hostname);
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
      socket.on("error", () => undefined);
    }
    outbound.on("data", (chunk: Buffer) => (received += chunk.toString("utf8")));
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((listening) => proxy.listen(0, "127.0.0.1", listening));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    connections: () => connections,
    received: () => received,
    /** Down: every connection is cut as it comes, as when nothing answers there. */
    setDown: (value: boolean) => (down = value),
    cut: () => sockets.forEach((socket) => socket.destroy()),
    close: () => new Promise<void>((closed) => (sockets.forEach((s) => s.destroy()), proxy.close(() => closed()))),
  };
}

describe("watch across a dropped connection", { timeout: 30_000 }, () => {
  const url = useAnvilServer();

  it("reopens the stream by itself and yields no snapshot twice", async () => {
    const proxy = await cuttableProxy(url());
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const job = await admin.jobs.submit.mutate({ prompt: "watched across a drop", ...quick });
      const watcher = createAnvilClient({ url: proxy.url, token: ADMIN_TOKEN });
      const snapshots: { status: string; queuePosition: number; progress: number }[] = [];
      let reconnects = 0;
      const dropErrors: unknown[] = [];
      const watching = (async () => {
        for await (const { status, queuePosition, progress } of watcher.watch(job.id, {
          retryDelayMs: () => 50,
          onReconnect: (error) => {
            reconnects++;
            dropErrors.push(error);
          },
        })) {
          snapshots.push({ status, queuePosition, progress });
        }
      })();
      await expect.poll(() => snapshots.length).toBe(1);
      // The stream drops while the job waits; it is reopened from the last event id, and the server answers with
      // the job's current state, which is the snapshot already seen.
      const before = proxy.connections();
      proxy.cut();
      const cutAt = proxy.received().length;
      await expect.poll(() => reconnects).toBeGreaterThan(0);
      // Each drop is told with words a program can show (the stream's own error says "Unknown error").
      for (const error of dropErrors) {
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toMatch(/^the job's event stream dropped.*reopened by itself/);
      }
      await expect.poll(() => proxy.connections()).toBeGreaterThan(before);
      // The reopened stream has sent that snapshot again (so that the watch had one to leave out) before the job goes
      // on.
      await expect.poll(() => proxy.received().slice(cutAt)).toMatch(/"status":"queued"/);
      await admin.queue.resume.mutate();
      await watching;
      expect(snapshots[0]).toEqual({ status: "queued", queuePosition: 1, progress: 0 });
      expect(snapshots.filter((s) => s.status === "queued")).toHaveLength(1);
      expect(snapshots.at(-1)).toMatchObject({ status: "complete", progress: 100 });
      for (const [i, snapshot] of snapshots.entries()) expect(snapshot, `#${i}`).not.toEqual(snapshots[i - 1]);
    } finally {
      await admin.queue.resume.mutate();
      await proxy.close();
    }
  });

  it("waits for a job though the server does not answer when the wait begins, and tells each snapshot once", async () => {
    const proxy = await cuttableProxy(url());
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const job = await admin.jobs.submit.mutate({ prompt: "waited for across a restart", ...quick });
      proxy.setDown(true);
      const waiter = createAnvilClient({ url: proxy.url, token: ADMIN_TOKEN });
      const updates: string[] = [];
      const reconnects: unknown[] = [];
      const waiting = waiter.wait(job.id, {
        onUpdate: ({ status, queuePosition, progress }) => updates.push(`${status} ${queuePosition} ${progress}`),
        onReconnect: (error) => reconnects.push(error),
      });
      await expect.poll(() => reconnects.length).toBeGreaterThan(1);
      proxy.setDown(false);
      await expect.poll(() => updates.length).toBeGreaterThan(0);
      await admin.queue.resume.mutate();
      expect((await waiting).status).toBe("complete");
      expect(updates[0]).toBe("queued 1 0");
      expect(updates.filter((update) => update.startsWith("queued"))).toHaveLength(1);
      expect(updates.at(-1)).toBe("complete 0 100");
    } finally {
      await admin.queue.resume.mutate();
      await proxy.close();
    }
  });
});

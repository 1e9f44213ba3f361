import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { pause } from "./testing/wait";
import { batchFrames } from "./ws-batching";
import { unsentBound } from "./ws-unsent-bound";

const GRACE_MS = 200;

describe("unsentBound", () => {
  let wss: WebSocketServer | undefined;
  afterEach(() => wss?.close());

  it("cuts a socket whose client reads nothing once its close frame has not gone out within the grace", async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => wss!.once("listening", resolve));
    const accepted = new Promise<WebSocket>((resolve) =>
      wss!.once("connection", (ws, req) => {
        const bound = unsentBound(ws, req.socket, {
          maxBytes: 64 * 1024,
          graceMs: GRACE_MS,
          logger: pino({ level: "silent" }),
        });
        batchFrames(ws, req.socket, bound);
        resolve(ws);
      }),
    );
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    await new Promise((resolve) => client.once("open", resolve));
    client.pause();
    const ws = await accepted;
    const closed = new Promise<{ code: number; at: number }>((resolve) =>
      ws.once("close", (code) => resolve({ code, at: performance.now() })),
    );

    const frame = "x".repeat(64 * 1024);
    // Far more than the kernel's buffers on loopback take for a client that reads nothing.
    for (let i = 0; i < 1_000 && ws.readyState === ws.OPEN; i++) {
      ws.send(frame);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(ws.readyState).toBe(ws.CLOSING);
    const closing = performance.now();
    // ws would end it by itself only after its 30 s close timeout; terminated, it closes without a close frame back.
    const cut = await Promise.race([closed, pause(GRACE_MS + 2_000).then(() => null)]);
    expect(cut?.code, "the socket was cut within the grace").toBe(1006);
    expect(cut!.at - closing).toBeGreaterThanOrEqual(GRACE_MS - 10);
    client.terminate();
  });
});

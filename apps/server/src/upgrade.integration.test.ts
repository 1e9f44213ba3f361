import { connect } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

describe("WebSocket upgrade with API_TOKEN", () => {
  const [pglite] = testDrivers();
  const token = "upgrade-secret-token";
  const server = useTestServer(pglite!, { apiToken: token });

  it("survives a client that resets the connection after its 401", async () => {
    const { port } = new URL(server().url);
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on("uncaughtException", onError);
    try {
      for (let i = 0; i < 5; i++) {
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        socket.write(
          "GET /trpc HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        );
        const reply = await new Promise<string>((resolve) => socket.once("data", (data) => resolve(String(data))));
        expect(reply).toMatch(/^HTTP\/1\.1 401/);
        // An RST instead of a FIN: the server's half-closed socket gets ECONNRESET.
        socket.resetAndDestroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      process.off("uncaughtException", onError);
    }
    expect(errors).toEqual([]);
    const health = await fetch(`${server().url}/trpc/health`, { headers: { authorization: `Bearer ${token}` } });
    expect(health.status).toBe(200);
  });
});

describe("a WebSocket message that breaks the protocol", () => {
  const [pglite] = testDrivers();
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString("utf8")) as { level: number; msg: string });
      done();
    },
  });
  const server = useTestServer(pglite!, { logger: pino({ level: "info" }, sink) });

  it("closes its socket with 1009 when over 256 KiB, and is logged as the client's doing, not the server's", async () => {
    const socket = new WebSocket(`${server().url.replace(/^http/, "ws")}/trpc`);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const closed = new Promise<number>((resolve) => socket.once("close", resolve));
    const input = { prompt: "x".repeat(300 * 1024) };
    socket.send(JSON.stringify({ id: 1, method: "mutation", params: { path: "jobs.submit", input } }));
    expect(await closed).toBe(1009);
    await vi.waitFor(() => expect(lines.some((line) => line.msg.startsWith("a WebSocket was closed"))).toBe(true));
    const logged = lines.find((line) => line.msg.startsWith("a WebSocket was closed"));
    expect(logged?.level).toBe(40);
    expect(lines.filter((line) => line.msg === "procedure failed")).toEqual([]);
  });
});

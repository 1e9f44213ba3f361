import { connect } from "node:net";
import { describe, expect, it } from "vitest";
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

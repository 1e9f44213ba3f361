import { createServer, connect } from "node:net";
import type { AddressInfo, Server, Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, useAnvilServer } from "../testing/anvil-server";
import { capturedOutput as output } from "../testing/captured-output";
import { runCli } from "./program";

/** A TCP proxy in front of the server that can be cut (connections dropped, new ones refused) and mended. */
async function startProxy(target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const open = async () => {
    server = createServer((client) => {
      const upstream = connect(Number(port), hostname);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((listening) => server!.listen(listenPort, "127.0.0.1", listening));
    listenPort = (server.address() as AddressInfo).port;
  };
  await open();
  return {
    url: () => `http://127.0.0.1:${listenPort}`,
    open,
    cut: async () => {
      const closed = new Promise((done) => server!.close(done));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describe("anvil wait while the server is away", { timeout: 60_000 }, () => {
  const url = useAnvilServer();

  it("says on stderr that it lost the server and reconnects, then that it is back, and still ends with the job", async () => {
    const admin = { url: url(), token: ADMIN_TOKEN };
    const quiet = () => ({ stdout: output().stream, stderr: output().stream });
    await runCli(["pause"], admin, quiet());
    const proxy = await startProxy(url());
    try {
      const submitted = output();
      await runCli(["submit", "waits across an outage", "--steps", "2", "--width", "64", "--height", "64"], admin, {
        stdout: submitted.stream,
        stderr: output().stream,
      });
      const jobId = submitted.text().trim();
      const stdout = output();
      const stderr = output();
      const code = runCli(
        ["wait", jobId],
        { url: proxy.url(), token: ADMIN_TOKEN },
        {
          stdout: stdout.stream,
          stderr: stderr.stream,
        },
      );
      await expect.poll(() => stdout.text()).toMatch(/position 1/);
      await proxy.cut();
      await expect
        .poll(() => stderr.text(), { timeout: 5_000 })
        .toMatch(/lost the event stream from Anvil at .*; reconnecting/);
      await proxy.open();
      await runCli(["resume"], admin, quiet());
      expect(await code).toBe(0);
      expect(stderr.text()).toMatch(/reconnecting[\s\S]*reconnected/);
      expect(stdout.text()).toMatch(/complete/);
    } finally {
      await runCli(["resume"], admin, quiet());
    }
  });
});

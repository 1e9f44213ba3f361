import { readFile, rm } from "node:fs/promises";
import { request as forward, createServer as createHttpServer } from "node:http";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * An HTTP proxy in front of the server whose image requests fail as a stopped server's do (the connection closes with
 * no answer) while `imagesAway` is set: a server stopped as a job ends lets the job finish before it goes.
 */
async function startImageProxy(target: string) {
  const { hostname, port } = new URL(target);
  const state = { imagesAway: true, imageTries: 0 };
  const server = createHttpServer((incoming, outgoing) => {
    if (incoming.url?.startsWith("/images/")) {
      state.imageTries += 1;
      if (state.imagesAway) return void incoming.socket.destroy();
    }
    const upstream = forward(
      { host: hostname, port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on("error", () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => new Promise((closed) => server.close(closed)).then(() => server.closeAllConnections()),
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
      await expect.poll(() => stderr.text()).toMatch(/lost the event stream from Anvil at .*; reconnecting/);
      await proxy.open();
      await runCli(["resume"], admin, quiet());
      expect(await code).toBe(0);
      expect(stderr.text()).toMatch(/reconnecting[\s\S]*reconnected/);
      expect(stdout.text()).toMatch(/complete/);
    } finally {
      await runCli(["resume"], admin, quiet());
    }
  });
  it("fetches a completed job's image once the server is back, instead of failing after it printed complete", async () => {
    const proxy = await startImageProxy(url());
    const file = join(tmpdir(), `anvil-outage-${process.pid}-${Date.now()}.png`);
    try {
      const stdout = output();
      const stderr = output();
      const code = runCli(
        ["submit", "an image after an outage", "--steps", "2", "--width", "64", "--height", "64", "--out", file],
        { url: proxy.url, token: ADMIN_TOKEN },
        { stdout: stdout.stream, stderr: stderr.stream },
      );
      await expect
        .poll(() => stderr.text(), { timeout: 20_000 })
        .toMatch(/completed, but Anvil at .* went away before its image came; fetching it once the server is back/);
      const tries = proxy.state.imageTries;
      await expect.poll(() => proxy.state.imageTries, { timeout: 10_000 }).toBeGreaterThan(tries);
      proxy.state.imagesAway = false;
      expect(await code).toBe(0);
      expect(stdout.text()).toMatch(/complete/);
      expect((await readFile(file)).subarray(1, 4).toString()).toBe("PNG");
      expect(stderr.text().match(/went away before its image came/g)).toHaveLength(1);
    } finally {
      await proxy.close();
      await rm(file, { force: true });
    }
  });
});

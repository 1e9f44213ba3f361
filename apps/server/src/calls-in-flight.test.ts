import { createServer } from "node:http";
import type { Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { callsInFlight } from "./calls-in-flight";

describe("callsInFlight's stop", () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  });

  /** A server that answers 204, counted by `callsInFlight` with the clock `now` gives; a connection to it taken. */
  const connected = async (now: () => number) => {
    server = createServer((_req, res) => res.writeHead(204).end());
    const calls = callsInFlight(server, now);
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const taken = new Promise<void>((resolve) => server?.once("connection", () => resolve()));
    const socket = connect((server.address() as AddressInfo).port, "127.0.0.1");
    sockets.push(socket);
    await taken;
    return { calls, socket };
  };

  // A minute to wait at most: a stop that waited for the connection would outlast the test's timeout.
  const MINUTE = 60_000;

  it("waits for a connection taken just before it to send its call", async () => {
    const { calls, socket } = await connected(() => 0);
    let stopped = false;
    const stop = calls.stopTaking(MINUTE).then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    socket.write("POST /trpc/jobs.submit HTTP/1.1\r\nHost: anvil\r\nContent-Length: 0\r\n\r\n");
    await stop;
    expect(stopped).toBe(true);
  });

  it("does not wait for one taken longer ago than it would wait, which sent nothing (a browser's preconnection)", async () => {
    let clock = 0;
    const { calls, socket } = await connected(() => clock);
    clock = MINUTE + 1;
    await calls.stopTaking(MINUTE);
    // Still open, and it never sent a request: the stop went on without it.
    expect(socket.destroyed).toBe(false);
  });
});

import { createServer } from "node:http";
import type { Server } from "node:http";
import { connect } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { answerClientErrors, createHttpServer } from "./client-errors";

describe("answerClientErrors", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it("answers a body that does not arrive whole in time with 408 in the API's error shape", async () => {
    // Node's own limit is 300 s, checked every 30 s; here 300 ms, checked every 50.
    server = createServer({ requestTimeout: 300, connectionsCheckingInterval: 50 }, (req, res) => {
      // Reads the body, as every procedure does before it answers, and answers its loss late: that must not
      // throw (vitest fails the run on an uncaught error).
      req.resume();
      req.on("end", () => res.end("read it all"));
      req.on("close", () => setTimeout(() => res.writeHead(400).end("too late"), 20));
    });
    answerClientErrors(server);
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;

    const socket = connect(port, "127.0.0.1");
    socket.write("POST /trpc/jobs.submit HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n");
    socket.write("content-length: 100\r\n\r\n{");
    // A byte now and then, never the whole body.
    const trickle = setInterval(() => socket.writable && socket.write(" "), 100);
    const answer = await new Promise<string>((resolve) => {
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      socket.on("close", () => resolve(received));
      socket.on("error", () => resolve(received));
    });
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toMatchObject({
      error: { message: "The request did not arrive whole in time", data: { code: "TIMEOUT", httpStatus: 408 } },
    });
  });
});

describe("createHttpServer", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** Sends `request` as it is and resolves with everything the server answered before it closed. */
  const exchange = async (request: string): Promise<string> => {
    const { port } = server!.address() as AddressInfo;
    const socket = connect(port, "127.0.0.1");
    socket.write(request);
    return new Promise<string>((resolve) => {
      let received = "";
      socket.on("data", (chunk: Buffer) => (received += chunk.toString()));
      socket.on("close", () => resolve(received));
      socket.on("error", () => resolve(received));
    });
  };

  it("answers an HTTP/1.1 request without a Host header with 400 in the API's error shape, not Node's empty one", async () => {
    server = createHttpServer((_req, res) => res.end("answered"));
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));

    const answer = await exchange("GET /trpc/health HTTP/1.1\r\n\r\n");
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    // One chunk: its size, then the body.
    const [, body] = answer.slice(answer.indexOf("\r\n\r\n") + 4).split("\r\n");
    expect(JSON.parse(body ?? "")).toMatchObject({
      error: { message: "An HTTP/1.1 request needs a Host header", data: { code: "BAD_REQUEST", httpStatus: 400 } },
    });
    // HTTP/1.0 has no Host header to require, and a request with one is answered as always.
    expect(await exchange("GET /trpc/health HTTP/1.0\r\n\r\n")).toMatch(/answered$/);
    expect(await exchange("GET /trpc/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).toMatch(/answered$/);
  });
});

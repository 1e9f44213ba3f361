import { createServer, request } from "node:http";
import type { IncomingHttpHeaders, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GZIP_MIN_BYTES, gzipJsonAnswers } from "./gzip-json";

/** A JSON body of `bytes` bytes or so. */
const bodyOf = (bytes: number): string => JSON.stringify({ items: "x".repeat(Math.max(0, bytes - 12)) });

/** What each path answers, written as tRPC writes it: headers set one by one, the body in pieces, then `end`. */
const answers: Record<string, (res: ServerResponse) => void> = {
  "/big": (res) => {
    res.statusCode = 200;
    res.setHeader("content-type", "application/json");
    const body = bodyOf(20_000);
    res.write(body.slice(0, 5_000));
    res.write(Buffer.from(body.slice(5_000)));
    res.end();
  },
  "/small": (res) => {
    res.setHeader("content-type", "application/json");
    res.end(bodyOf(GZIP_MIN_BYTES - 100));
  },
  "/text": (res) => {
    res.setHeader("content-type", "text/plain");
    res.end("t".repeat(20_000));
  },
  "/events": (res) => {
    res.setHeader("content-type", "text/event-stream");
    res.write(`data: ${bodyOf(4_000)}\n\n`);
    // The first event reaches the client before the stream ends, which it does only when the client asks.
    res.once("close", () => res.end());
  },
  "/error": (res) => {
    res.statusCode = 404;
    res.setHeader("content-type", "application/json");
    res.end(bodyOf(4_000));
  },
};

describe("gzipJsonAnswers", () => {
  let port = 0;
  const server = createServer((req, res) => {
    gzipJsonAnswers(req, res);
    answers[req.url ?? ""]?.(res);
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** The raw answer: status, headers and the bytes as sent (not unzipped). */
  const get = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
      });
      req.on("error", reject);
      req.end();
    });

  it("gzips a JSON answer of 1 KB or more for a client that takes gzip, byte for byte the same once unzipped", async () => {
    const plain = await get("/big", {});
    const zipped = await get("/big", { "accept-encoding": "gzip, deflate, br" });
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(zipped.status).toBe(200);
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers["vary"]).toBe("accept-encoding");
    expect(Number(zipped.headers["content-length"])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(plain.body.length / 10);
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
    expect(plain.body.toString()).toBe(bodyOf(20_000));
  });

  it("gzips an error's JSON as well, keeping its status", async () => {
    const zipped = await get("/error", { "accept-encoding": "gzip" });
    expect(zipped.status).toBe(404);
    expect(gunzipSync(zipped.body).toString()).toBe(bodyOf(4_000));
  });

  it("sends small answers, other types and answers to clients that refuse gzip as they are", async () => {
    for (const [path, headers] of [
      ["/small", { "accept-encoding": "gzip" }],
      ["/text", { "accept-encoding": "gzip" }],
      ["/big", { "accept-encoding": "identity" }],
      ["/big", { "accept-encoding": "gzip;q=0, *" }],
    ] as const) {
      const answer = await get(path, headers);
      expect(answer.headers["content-encoding"], `${path} ${JSON.stringify(headers)}`).toBeUndefined();
      expect(Number(answer.headers["content-length"] ?? answer.body.length)).toBe(answer.body.length);
    }
  });

  it("sends a stream of events as it is written, whatever the request said it accepts", async () => {
    const first = await new Promise<{ encoding: string | undefined; data: string }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/events", headers: { "accept-encoding": "gzip" }, agent: false },
        (res) => {
          res.once("data", (chunk: Buffer) => {
            resolve({ encoding: res.headers["content-encoding"], data: chunk.toString() });
            req.destroy();
          });
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(first).toEqual({ encoding: undefined, data: `data: ${bodyOf(4_000)}\n\n` });
  });

  it("leaves streams alone: Server-Sent Events and tRPC's streamed batches reach the client as they are written", async () => {
    for (const headers of [
      { "accept-encoding": "gzip", accept: "text/event-stream" } as Record<string, string>,
      { "accept-encoding": "gzip", "trpc-accept": "application/jsonl" },
    ]) {
      const answer = await get("/big", headers);
      expect(answer.headers["content-encoding"]).toBeUndefined();
      expect(answer.headers["vary"]).toBeUndefined();
      expect(answer.body.toString()).toBe(bodyOf(20_000));
    }
  });
});

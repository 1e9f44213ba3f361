import { createServer, request } from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { acceptsGzip, sendFile, serveWebApp } from "./static-files";

const openFds = async (): Promise<string[]> => {
  const fds = await readdir("/proc/self/fd");
  return fds;
};

describe("sendFile", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("settles and closes the file when the client goes away mid-file", async () => {
    const root = await mkdtemp(join(tmpdir(), "anvil-static-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    // Far more than the socket buffers hold, so the server is still sending when the client leaves.
    await writeFile(join(root, "big.png"), Buffer.alloc(64 * 1024 * 1024, 1));
    let settled: Promise<boolean> | undefined;
    const server = createServer((_req, res) => {
      settled = sendFile(res, root, "big.png");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const before = (await openFds()).length;

    const client = connect(port, "127.0.0.1");
    client.write("GET /big.png HTTP/1.1\r\nHost: x\r\n\r\n");
    // Read the first bytes only, then leave without reading the rest.
    await new Promise<void>((resolve) => client.once("data", () => resolve()));
    client.destroy();

    await expect.poll(() => settled, { timeout: 2_000 }).toBeDefined();
    const outcome = await Promise.race([
      settled,
      new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), 3_000)),
    ]);
    expect(outcome).toBe(true);
    await expect.poll(async () => (await openFds()).length, { timeout: 2_000 }).toBeLessThanOrEqual(before);
  });
});

describe("serveWebApp", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A built web app's folder, served as the server serves it; `get` answers with the raw (not unzipped) body. */
  const webApp = async (framers: readonly string[] = []) => {
    const root = await mkdtemp(join(tmpdir(), "anvil-web-"));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, "assets"));
    const script = `export const app = ${JSON.stringify("anvil ".repeat(5_000))};\n`;
    await writeFile(join(root, "assets", "index-Abc123.js"), script);
    await writeFile(join(root, "index.html"), "<!doctype html><script src=/assets/index-Abc123.js></script>");
    await writeFile(join(root, "favicon.png"), Buffer.alloc(2_000, 7));
    const server = createServer((req, res) => {
      void serveWebApp(req, res, root, new URL(req.url ?? "/", "http://x").pathname, framers);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        // No keep-alive: each request its own connection, so that closing the server does not wait for idle ones.
        request({ host: "127.0.0.1", port, path, headers, agent: false }, (res) => {
          const parts: Buffer[] = [];
          res.on("data", (part: Buffer) => parts.push(part));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
          );
        })
          .on("error", reject)
          .end();
      });
    return { root, script, get };
  };

  it("lets only its own origin and ALLOWED_ORIGINS frame the app's page, so that no other site can clickjack it", async () => {
    const alone = await webApp();
    for (const path of ["/", "/inspect", "/index.html"]) {
      const page = await alone.get(path);
      expect(page.headers["content-security-policy"], path).toBe("frame-ancestors 'self'");
      expect(page.headers["x-frame-options"], path).toBe("SAMEORIGIN");
    }
    const shared = await webApp(["https://dash.example.com"]);
    const page = await shared.get("/");
    expect(page.headers["content-security-policy"]).toBe("frame-ancestors 'self' https://dash.example.com");
    // The older header cannot name another origin: left out, where frame-ancestors says who may.
    expect(page.headers["x-frame-options"]).toBeUndefined();
  });

  it("sends the app's text gzipped to a browser that takes gzip, the same bytes once unzipped", async () => {
    const { script, get } = await webApp();
    const zipped = await get("/assets/index-Abc123.js", { "accept-encoding": "gzip, deflate, br" });
    expect(zipped.status).toBe(200);
    expect(zipped.headers["content-encoding"]).toBe("gzip");
    expect(zipped.headers["vary"]).toBe("accept-encoding");
    expect(Number(zipped.headers["content-length"])).toBe(zipped.body.length);
    expect(zipped.body.length).toBeLessThan(script.length / 10);
    expect(gunzipSync(zipped.body).toString()).toBe(script);
    // Asked again, the same bytes (made once, kept while the file is unchanged).
    expect((await get("/assets/index-Abc123.js", { "accept-encoding": "gzip" })).body.equals(zipped.body)).toBe(true);
  });

  it("sends the file as it is to a client that does not take gzip, or refuses it", async () => {
    const { script, get } = await webApp();
    const refusals: Record<string, string>[] = [
      {},
      { "accept-encoding": "identity" },
      { "accept-encoding": "gzip;q=0, *" },
    ];
    for (const headers of refusals) {
      const plain = await get("/assets/index-Abc123.js", headers);
      expect(plain.headers["content-encoding"]).toBeUndefined();
      expect(plain.body.toString()).toBe(script);
    }
    // Images are compressed already: never gzipped.
    const image = await get("/favicon.png", { "accept-encoding": "gzip" });
    expect(image.headers["content-encoding"]).toBeUndefined();
    expect(image.body.length).toBe(2_000);
  });

  it("serves a file changed on disk anew, not the gzipped copy of the old one", async () => {
    const { root, get } = await webApp();
    await get("/assets/index-Abc123.js", { "accept-encoding": "gzip" });
    const rebuilt = "export const app = 'rebuilt, and of another length';\n";
    await writeFile(join(root, "assets", "index-Abc123.js"), rebuilt);
    const again = await get("/assets/index-Abc123.js", { "accept-encoding": "gzip" });
    expect(gunzipSync(again.body).toString()).toBe(rebuilt);
  });

  it("caches the hashed build output for good, checks index.html on every load, and the rest for an hour", async () => {
    const { get } = await webApp();
    expect((await get("/assets/index-Abc123.js")).headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    for (const path of ["/", "/inspect"]) {
      const page = await get(path, { "accept-encoding": "gzip" });
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(gunzipSync(page.body).toString()).toContain("/assets/index-Abc123.js");
    }
    expect((await get("/favicon.png")).headers["cache-control"]).toBe("public, max-age=3600");
    // A file that is not there is answered in the API's error shape, as any other unknown path, saying where to go.
    for (const path of ["/assets/missing.js", "/favicon.ico", "/assets/..%2f..%2fetc%2fpasswd"]) {
      const missing = await get(path);
      expect(missing.status, path).toBe(404);
      expect(missing.headers["content-type"], path).toMatch(/^application\/json/);
      const said = JSON.parse(missing.body.toString()) as { error: { message: string; data: { code: string } } };
      expect(said.error.data.code).toBe("NOT_FOUND");
      expect(said.error.message).toMatch(/^No such file .*: the web app is at \//);
    }
  });
});

describe("acceptsGzip", () => {
  it.each([
    ["gzip", true],
    ["gzip, deflate, br, zstd", true],
    ["br;q=1.0, gzip;q=0.8", true],
    ["*", true],
    ["identity", false],
    ["", false],
    ["gzip;q=0", false],
    ["gzip;q=0.000", false],
    ["gzip;q=0, *", false],
    ["br, *;q=0", false],
    ["GZIP ; Q=0.5", true],
  ])("Accept-Encoding %j → %s", (header, expected) => {
    expect(acceptsGzip({ headers: { "accept-encoding": header } })).toBe(expected);
  });
});

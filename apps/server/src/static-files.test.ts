import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sendFile } from "./static-files";

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

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnServer, useBuiltServers } from "./support/built-server";

describe("the built server with one Forge listed under two names", () => {
  const { servers, cleanups } = useBuiltServers(30_000);

  it("stops with one line naming both entries, before it opens the database", async () => {
    const folder = await mkdtemp(join(tmpdir(), "anvil-forge-url-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const dataDir = join(folder, "data");
    const failure = await spawnServer({
      DATA_DIR: dataDir,
      FORGE_URL: "http://localhost:7860,http://127.0.0.1:7860",
    }).then(
      (server) => {
        servers.push(server);
        return new Error("the server started");
      },
      (error: unknown) => error as Error,
    );
    expect(failure.message).toBe(
      "the server exited (code 1, signal null) before it listened; stderr: Invalid environment: FORGE_URL lists " +
        "http://localhost:7860 and http://127.0.0.1:7860, which are one server (127.0.0.1 port 7860): it would " +
        "count as two GPUs and get two generations at once; list it once\n",
    );
    // Refused before the DATA_DIR was touched: no embedded database was made for a server that never ran.
    expect(await readdir(folder)).toEqual([]);
  }, 30_000);
});

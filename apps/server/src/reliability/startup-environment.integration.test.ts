import { createServer } from "node:net";
import type { Server } from "node:net";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkListenAddress } from "../env";
import { testDrivers } from "../testing/test-databases";
import { spawnServer, useBuiltServers } from "./support/built-server";

const listening = async (): Promise<{ server: Server; port: number }> => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
};

describe("checkListenAddress", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it("lets go of a free HOST:PORT, so that the server can take it next", async () => {
    const { server, port } = await listening();
    await new Promise((resolve) => server.close(resolve));
    await checkListenAddress({ HOST: "127.0.0.1", PORT: port });
    const next = createServer();
    servers.push(next);
    await new Promise<void>((resolve, reject) => next.once("error", reject).listen(port, "127.0.0.1", resolve));
  });

  it("names PORT when it is in use", async () => {
    const { server, port } = await listening();
    servers.push(server);
    await expect(checkListenAddress({ HOST: "127.0.0.1", PORT: port })).rejects.toThrow(
      `Cannot start: PORT ${port} is in use on 127.0.0.1 by another process (listen EADDRINUSE): stop it, or set PORT to a free port`,
    );
  });

  it("names HOST when it is not an address of this machine, or resolves to none", async () => {
    // 192.0.2.0/24 is TEST-NET-1, documentation only; .invalid never resolves (RFC 2606).
    await expect(checkListenAddress({ HOST: "192.0.2.1", PORT: 0 })).rejects.toThrow(
      "Invalid environment: HOST 192.0.2.1 is not an address of this machine (listen EADDRNOTAVAIL)",
    );
    await expect(checkListenAddress({ HOST: "anvil.invalid", PORT: 0 })).rejects.toThrow(
      /^Invalid environment: HOST anvil\.invalid (is not an address of this machine|could not be resolved) \(getaddrinfo E[A-Z_]+\)$/,
    );
  });
});

describe("the built server with a bad HOST, PORT or DATA_DIR", () => {
  const { servers, cleanups } = useBuiltServers(30_000);

  /** What the server wrote to stderr when it stopped before listening. */
  const refusal = async (env: Record<string, string>): Promise<string> => {
    const failure = await spawnServer(env).then(
      (server) => {
        servers.push(server);
        return new Error("the server started");
      },
      (error: unknown) => error as Error,
    );
    expect(failure.message).toMatch(/^the server exited \(code 1, signal null\) before it listened; stderr: /);
    return failure.message.replace(/^.*?stderr: /, "");
  };

  it("stops with one line naming the variable, before it opens anything", async () => {
    const folder = await mkdtemp(join(tmpdir(), "anvil-startup-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const file = join(folder, "a-file");
    await writeFile(file, "");
    const taken = await listening();
    cleanups.push(() => new Promise((resolve) => taken.server.close(resolve)));
    const dataDir = join(folder, "data");

    expect(await refusal({ DATA_DIR: file })).toBe(`Invalid environment: DATA_DIR ${file} is not a directory\n`);
    expect(await refusal({ DATA_DIR: dataDir, HOST: "999.1.1.1" })).toBe(
      "Invalid environment: HOST 999.1.1.1 is not an IP address or a host name\n",
    );
    expect(await refusal({ DATA_DIR: dataDir, HOST: "192.0.2.1" })).toBe(
      "Invalid environment: HOST 192.0.2.1 is not an address of this machine (listen EADDRNOTAVAIL)\n",
    );
    expect(await refusal({ DATA_DIR: dataDir, PORT: String(taken.port) })).toBe(
      `Cannot start: PORT ${taken.port} is in use on 127.0.0.1 by another process (listen EADDRINUSE): stop it, or set PORT to a free port\n`,
    );
  }, 30_000);

  it("starts with NODE_ENV=prod, and warns that it is not production", async () => {
    // A copy of the migrated template, as the other tests' servers start on: a new embedded database (initdb, several
    // seconds of CPU, 10–20 s on a loaded CI machine) is no part of this; sigterm-startup's tests make one.
    const database = await testDrivers()
      .find((driver) => driver.kind === "pglite")!
      .create();
    cleanups.push(() => database.dispose());
    const server = await spawnServer({ DATA_DIR: database.dataDir, NODE_ENV: "prod" });
    servers.push(server);
    expect(server.logs.find((line) => line.msg?.startsWith("NODE_ENV=prod"))).toMatchObject({
      level: 40,
      msg: expect.stringContaining("set NODE_ENV=production"),
    });
  }, 60_000);
});

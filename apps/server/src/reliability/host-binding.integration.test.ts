import { connect } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { testDrivers } from "../testing/test-databases";
import { assertServerBuilt, killAll, spawnServer } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

/** Whether a TCP connection to `host:port` is accepted ("open") or refused. */
const reach = (host: string, port: number): Promise<"open" | "refused"> =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve("open");
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      error.code === "ECONNREFUSED" ? resolve("refused") : reject(error),
    );
  });

// On Linux all of 127.0.0.0/8 is the loopback interface, so a second local address is always there: a server bound to
// 127.0.0.1 refuses connections to 127.0.0.2, one bound to every address accepts them.
describe.runIf(process.platform === "linux")("the address the built server binds to", () => {
  // PostgreSQL where there is one: a fresh process opens it faster than the embedded database.
  const driver = testDrivers().at(-1)!;
  const servers: ServerProcess[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  beforeAll(() => assertServerBuilt());
  afterEach(async () => {
    await killAll(servers);
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  const start = async (env: Record<string, string>): Promise<{ server: ServerProcess; port: number }> => {
    const database = await driver.create();
    cleanups.push(() => database.dispose());
    const server = await spawnServer({
      DATA_DIR: database.dataDir,
      ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
      ...env,
    });
    servers.push(server);
    return { server, port: Number(new URL(server.url).port) };
  };

  it("is 127.0.0.1 when HOST is not set", async () => {
    const { server, port } = await start({});
    expect(new URL(server.url).hostname).toBe("127.0.0.1");
    expect(await reach("127.0.0.1", port)).toBe("open");
    expect(await reach("127.0.0.2", port)).toBe("refused");
    expect((await fetch(`http://127.0.0.1:${port}/trpc/health`)).status).toBe(200);
  });

  it("is HOST when it is set", async () => {
    const { server, port } = await start({ HOST: "127.0.0.2" });
    expect(new URL(server.url).hostname).toBe("127.0.0.2");
    expect(await reach("127.0.0.2", port)).toBe("open");
    expect(await reach("127.0.0.1", port)).toBe("refused");
    expect((await fetch(`http://127.0.0.2:${port}/trpc/health`)).status).toBe(200);
  });
});

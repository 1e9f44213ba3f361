import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnScriptUntil } from "../testing/spawn-server";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { assertServerBuilt, BUILT_SERVER, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

const STOPPED = "stopped during start-up";

/** Whether any process's command line names `path`: PGlite's initdb runs apart, in a child that may outlive us. */
const processesNaming = async (path: string): Promise<number[]> => {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (commandLine.includes(path)) pids.push(Number(entry));
  }
  return pids;
};

/**
 * The CPU time process `pid` has used, in ms (Linux's /proc/<pid>/stat, in clock ticks of 10 ms). Node's own
 * boot takes 60–80 ms of it on a slow machine, before the entry's first lines catch SIGTERM (its own handler, which kills the
 * process, is in place before that); loading the server's modules takes a hundred to several hundred more.
 */
const cpuMs = async (pid: number): Promise<number> => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
};

/** A TCP server that takes connections and never says a word: a PostgreSQL the server waits for. */
const silentServer = async (): Promise<{ port: number; close(): Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
};

describe("SIGTERM of the built server during its start-up", { timeout: 90_000 }, () => {
  const { servers, cleanups } = useBuiltServers(60_000);
  const pglite = testDrivers().find((driver) => driver.kind === "pglite")!;

  /** Starts the built server and resolves when it logs a line that starts with `until`. */
  const startUntil = async (env: Record<string, string>, until: string): Promise<ServerProcess> => {
    assertServerBuilt();
    const server = await spawnScriptUntil(BUILT_SERVER, env, until);
    servers.push(server);
    return server;
  };
  const messages = (server: ServerProcess) => server.logs.map((line) => line.msg);

  it("exits 0 while a new embedded database is being made, leaving none half made where the next start looks", async () => {
    const folder = await mkdtemp(join(tmpdir(), "anvil-startup-stop-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const dataDir = join(folder, "data");
    const first = await startUntil({ DATA_DIR: dataDir }, "creating the embedded database in");

    expect(await first.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    // Given up at once, not after the start-up wait: initdb cannot be closed part way.
    const stopped = first.logs.find((line) => line.msg === STOPPED);
    expect(stopped).toMatchObject({
      signal: "SIGTERM",
      startUpError: expect.stringMatching(/stopped by SIGTERM during start-up/),
    });
    expect(stopped).not.toHaveProperty("abandoned");
    expect(messages(first)).not.toContainEqual(expect.stringMatching(/^Anvil is listening/));
    expect(first.stderr()).toBe("");
    // Nothing half made where the next start opens it: the database is made in a scratch folder and moved in whole.
    expect(existsSync(join(dataDir, "pglite", "PG_VERSION"))).toBe(false);
    // Its initdb child was killed with it, rather than left to work on for tens of seconds as an orphan.
    await waitFor(async () => (await processesNaming(dataDir)).length === 0, "the initdb child ends", 5_000);

    const second = await spawnServer({ DATA_DIR: dataDir });
    servers.push(second);
    expect(existsSync(join(dataDir, "pglite", "PG_VERSION"))).toBe(true);
    expect(await second.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    expect(messages(second)).toContain("stopped cleanly");
  });

  it("exits 0 while the database opens, after closing what started: the DATA_DIR lock is given back", async () => {
    const database = await pglite.create();
    cleanups.push(() => database.dispose());
    const server = await startUntil({ DATA_DIR: database.dataDir }, "opening the embedded database in");

    expect(await server.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    const stopped = server.logs.find((line) => line.msg === STOPPED);
    expect(stopped).toMatchObject({ signal: "SIGTERM" });
    // The start got far enough within the wait to be closed, not abandoned.
    expect(stopped).not.toHaveProperty("abandoned");
    expect(existsSync(join(database.dataDir, "anvil.lock"))).toBe(false);
    // Opening a copy of the template takes about a second. On a loaded machine (a load of 12 and more) this test
    // read the line and signalled only after the open had ended: then the start ran on to its end before it was
    // closed, and there is nothing more to check of the open.
    if (stopped?.["startUpError"] === undefined) return;
    expect(stopped["startUpError"]).toMatch(/stopped by SIGTERM during start-up/);
    // Closed as soon as it opened: nothing after it was started only to be stopped again (the built-in simulator).
    expect(messages(server)).not.toContainEqual(expect.stringMatching(/^FORGE_URL is not set/));
  });

  it("exits 0 at once on a SIGTERM that comes before anything is logged, while its modules load", async () => {
    // A PostgreSQL that never answers: however fast this machine, the start is not over half a second in.
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const folder = await mkdtemp(join(tmpdir(), "anvil-startup-stop-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    assertServerBuilt();
    const server = spawn(process.execPath, [BUILT_SERVER], {
      env: {
        PATH: process.env["PATH"] ?? "",
        PORT: "0",
        DATA_DIR: folder,
        DATABASE_URL: `postgres://anvil@127.0.0.1:${silent.port}/anvil`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    server.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      server.once("exit", (code, signal) => resolve([code, signal])),
    );
    cleanups.push(async () => {
      server.kill("SIGKILL");
      await exited;
    });
    // Past Node's own boot, within the time its modules take to load. Counted in the process's CPU time, not the
    // clock's: a fixed 500 ms came before the boot's end at a load of 20, and Node's own handling killed it. On a
    // fast machine the whole load took less than 250 ms of CPU, and the start then waited for the silent database
    // using none: a first line logged means the modules are in, and the signal goes at once.
    await waitFor(
      async () => stdout !== "" || (await cpuMs(server.pid!)) >= 150,
      "the server has used 150 ms of CPU or logged a line",
    );
    server.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { msg: string; signal?: string });
    expect(lines.at(-1)).toMatchObject({ msg: STOPPED, signal: "SIGTERM" });
  });

  it("exits 0 while it waits for a PostgreSQL that does not answer", async () => {
    const silent = await silentServer();
    cleanups.push(() => silent.close());
    const folder = await mkdtemp(join(tmpdir(), "anvil-startup-stop-"));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const server = await startUntil(
      { DATA_DIR: folder, DATABASE_URL: `postgres://anvil@127.0.0.1:${silent.port}/anvil` },
      "connecting to PostgreSQL at",
    );

    const signalledAt = Date.now();
    expect(await server.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    // Well before the driver's 30 s connect timeout, and before a process manager's kill (docker: 10 s).
    expect(Date.now() - signalledAt).toBeLessThan(9_000);
    expect(server.logs.find((line) => line.msg === STOPPED)).toMatchObject({ signal: "SIGTERM", abandoned: true });
    expect(server.stderr()).toBe("");
  });
});

import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify, stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnServer, useBuiltServers } from "../reliability/support/built-server";
import { testDrivers } from "../testing/test-databases";
import { assertClientBuilt, compileConsumer, compileReadmeExamples, installPackedClient } from "./packed-client";

const run = promisify(execFile);

/** A port nobody listens on now, so that a restarted server can come back on the same URL. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });

// The timeouts only catch hangs: npm install, tsc and a built server's start take minutes on a loaded 2-core machine.
describe("@anvil/client, packed and installed outside the workspace", () => {
  const { servers, cleanups } = useBuiltServers(30_000);
  let consumer: string;

  beforeAll(async () => {
    assertClientBuilt();
    consumer = await installPackedClient();
    await compileConsumer(consumer);
  }, 180_000);
  afterAll(() => consumer && rm(consumer, { recursive: true, force: true }));

  it("ships declarations that name no workspace package", async () => {
    const dist = join(consumer, "node_modules/@anvil/client/dist");
    const files = (await readdir(dist, { recursive: true })).filter((f) => f.endsWith(".d.ts") || f.endsWith(".js"));
    expect(files).toContain("index.d.ts");
    for (const file of files) {
      expect(await readFile(join(dist, file), "utf8"), file).not.toMatch(/["']@anvil\//);
    }
  });

  it("gives a stream's clients the line's helpers, typed by what the stream sends", async () => {
    // The client is made but never called: the helpers need no server.
    const { stdout } = await run(process.execPath, ["out/main.js", "line", "http://127.0.0.1:9"], { cwd: consumer });
    expect(JSON.parse(stdout)).toEqual({
      third: 1,
      first: 0,
      estimates: { estimatedStartAt: "2026-01-01T00:00:10.000Z", estimatedFinishAt: "2026-01-01T00:00:20.000Z" },
    });
  });

  it("loads with require() from a CommonJS project, as Node 20.19 and later load ES modules", async () => {
    const { stdout } = await run(
      process.execPath,
      ["--no-warnings", "-e", 'console.log(typeof require("@anvil/client").createAnvilClient)'],
      { cwd: consumer },
    );
    expect(stdout.trim()).toBe("function");
  });

  it("compiles the README's TypeScript examples against the packed client, as a newcomer pastes them", async () => {
    // The README has five: tRPC's own client, its links with a token, a WebSocket with a token, @anvil/client, and a
    // webhook's signature check.
    expect(await compileReadmeExamples(consumer)).toBe(5);
  }, 120_000);

  it("runs the README's tRPC example on Node as pasted: it follows its job to the end and exits", async () => {
    const compiled = join(consumer, "out/readme-1.js");
    if (!existsSync(compiled)) await compileReadmeExamples(consumer);
    const database = await testDrivers()[0]!.create();
    cleanups.push(() => database.dispose());
    const server = await spawnServer({ DATA_DIR: database.dataDir, ANVIL_SIMULATOR_STEP_MS: "20" });
    servers.push(server);
    // Only the address changes: the example's server is the README's default one.
    const example = (await readFile(compiled, "utf8")).replaceAll("http://127.0.0.1:3000", server.url);
    expect(example).toContain(server.url);
    await writeFile(join(consumer, "out/readme-1-here.js"), example);
    const { stdout, stderr } = await run(process.execPath, ["out/readme-1-here.js"], {
      cwd: consumer,
      timeout: 60_000,
    });
    expect(stderr).toBe("");
    // "<status> <queuePosition> <progress>" lines, the last one the job's end (console.log colours the numbers
    // where FORCE_COLOR is set, as under CI).
    expect(stripVTControlCharacters(stdout).trim().split("\n").at(-1)).toBe("complete 0 100");
  }, 120_000);

  it("submits and waits: the position, then the progress, then the PNG", async () => {
    const database = await testDrivers()[0]!.create();
    cleanups.push(() => database.dispose());
    const server = await spawnServer({ DATA_DIR: database.dataDir, ANVIL_SIMULATOR_STEP_MS: "20" });
    servers.push(server);
    const { stdout } = await run(process.execPath, ["out/main.js", "submit", server.url], { cwd: consumer });
    const result = JSON.parse(stdout) as {
      status: string;
      final: boolean;
      positions: number[];
      progress: number[];
      signature: number[];
      waited: string;
    };
    expect(result.status).toBe("complete");
    expect(result.final).toBe(true);
    expect(result.positions[0]).toBe(1);
    expect(result.progress.at(-1)).toBe(100);
    expect(String.fromCharCode(...result.signature)).toBe("PNG");
    expect(result.waited).toBe("complete");
  }, 240_000);

  it("watches a job across a server restart and ends with its final state", async () => {
    const database = await testDrivers()[0]!.create();
    cleanups.push(() => database.dispose());
    const env = { DATA_DIR: database.dataDir, ANVIL_SIMULATOR_STEP_MS: "100", PORT: String(await freePort()) };
    const first = await spawnServer(env);
    servers.push(first);

    const child = spawn(process.execPath, ["out/main.js", "watch", first.url], {
      cwd: consumer,
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(() => child.kill("SIGKILL"));
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const lines: { status?: string; attempt?: number; done?: boolean }[] = [];
    let restarted: Promise<void> | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as (typeof lines)[number];
      lines.push(event);
      // Killed mid-generation: the job runs again after the restart, and the watch resumes by itself. The first
      // server's 10 s generation outlasts the kill; the second need not be slow, and runs it again in 2 s.
      if (event.status === "processing" && !restarted) {
        restarted = (async () => {
          await first.kill("SIGKILL");
          servers.push(await spawnServer({ ...env, ANVIL_SIMULATOR_STEP_MS: "20" }));
        })();
      }
    }
    await restarted;
    expect(await exited, stderr).toBe(0);
    expect(lines.at(-1)).toEqual({ done: true });
    const last = lines.at(-2)!;
    expect(last.status).toBe("complete");
    expect(last.attempt).toBe(2);
    // Nothing after the final snapshot, and every snapshot before it is of a job still going.
    expect(lines.slice(0, -2).every((e) => e.status === "queued" || e.status === "processing")).toBe(true);
  }, 240_000);
});

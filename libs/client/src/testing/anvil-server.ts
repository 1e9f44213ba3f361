import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll } from "vitest";

/** The built server (apps/server/dist), which these tests start but never build. */
const SERVER = resolve(import.meta.dirname, "../../../../apps/server/dist/main.js");

/** The admin token the test server is started with. */
export const ADMIN_TOKEN = "client-tests-admin-token";

/** Starts the built server (PGlite, the built-in Forge simulator, port 0) around a suite; returns its URL. */
export function useAnvilServer(env: Record<string, string> = {}): () => string {
  let url = "";
  let dir = "";
  let child: ReturnType<typeof spawn> | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "anvil-client-"));
    const server = spawn(process.execPath, [SERVER], {
      env: {
        PATH: process.env["PATH"] ?? "",
        HOME: process.env["HOME"] ?? "",
        PORT: "0",
        ANVIL_INSPECT: "0",
        DATA_DIR: dir,
        API_TOKEN: ADMIN_TOKEN,
        ...env,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child = server;
    url = await new Promise<string>((ready, fail) => {
      server.once("exit", (code) => fail(new Error(`the server exited (${code}) before it listened`)));
      createInterface({ input: server.stdout! }).on("line", (line) => {
        const found = /Anvil is listening on (\S+)"/.exec(line);
        if (found) ready(found[1]!);
      });
    });
  }, 60_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((done) => child!.once("exit", done));
      child.kill("SIGKILL");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => url;
}

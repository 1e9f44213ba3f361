import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, inject } from "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** A DATA_DIR the built server made and stopped cleanly in: copy it, never start a server on it in place. */
    dataDirTemplate: string;
  }
}

/** The built server (apps/server/dist), which these tests start but never build. */
const SERVER = resolve(import.meta.dirname, "../../../../apps/server/dist/main.js");

/** The admin token the test server is started with. */
export const ADMIN_TOKEN = "client-tests-admin-token";

/**
 * Starts the built server (PGlite, the built-in Forge simulator, port 0) on `dataDir`; resolves once it listens.
 * `spawned` gets the process at once: a caller that stops waiting first (a hook that timed out) can still stop it.
 */
export async function startBuiltServer(
  dataDir: string,
  env: Record<string, string> = {},
  spawned: (child: ChildProcess) => void = () => undefined,
): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      PORT: "0",
      ANVIL_INSPECT: "0",
      DATA_DIR: dataDir,
      API_TOKEN: ADMIN_TOKEN,
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  spawned(child);
  const url = await new Promise<string>((ready, fail) => {
    child.once("exit", (code) => fail(new Error(`the server exited (${code}) before it listened`)));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const found = /Anvil is listening on (\S+)"/.exec(line);
      if (found) ready(found[1]!);
    });
  });
  return { child, url };
}

/**
 * Starts the built server around a suite, on a copy of the run's DATA_DIR template (the embedded database made and
 * migrated once, in global-setup.ts, rather than by every suite); returns its URL. The start's bound is for a hang:
 * these tests run at a lower priority beside the server's (scripts/test.mjs), where opening the embedded database
 * took over a minute on a busy 2-core machine.
 */
export function useAnvilServer(env: Record<string, string> = {}): () => string {
  let url = "";
  let dir = "";
  let child: ChildProcess | undefined;
  // A start that outlasts the hook's bound goes on after it: afterAll waits for its copy of the template (which would
  // otherwise make the folder again after it was removed), and no server is started for a suite that ended.
  let copied: Promise<void> | undefined;
  let ended = false;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "anvil-client-"));
    copied = cp(inject("dataDirTemplate"), dir, { recursive: true });
    await copied;
    if (ended) return;
    // The process is known from its spawn on: if the start outlasts the hook's bound, afterAll still stops it,
    // where it used to outlive the run and keep vitest from exiting.
    ({ url } = await startBuiltServer(dir, env, (started) => (child = started)));
  }, 120_000);
  afterAll(async () => {
    ended = true;
    await copied?.catch(() => undefined);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child!.once("exit", done));
      child.kill("SIGKILL");
      await exited;
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => url;
}

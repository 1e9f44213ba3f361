import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll } from "vitest";
import type { Cleanup } from "./cleanups";

/** The server as `npm run serve` starts it. */
export const BUILT_SERVER = fileURLToPath(new URL("../../../dist/main.js", import.meta.url));

/** Fails with a message that says what to do when the server has not been built. */
export function assertServerBuilt(): void {
  if (!existsSync(BUILT_SERVER)) {
    throw new Error(
      `${BUILT_SERVER} does not exist: build the server first (npm run build -w @anvil/server); npm test builds before testing`,
    );
  }
}

/** One pino line of the child's stdout. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `node dist/main.js`. */
export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Every JSON log line so far. */
  logs: LogLine[];
  /** What went to stderr. */
  stderr: () => string;
  /** Settles when the process has exited. */
  exited: Promise<Exit>;
  /** Sends `signal` and, unless told otherwise, waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<Exit>;
}

const READY = "Anvil is listening on ";

/**
 * Spawns the built server with exactly `env` (plus PATH and HOME; nothing else leaks in from the test's own
 * environment, API_TOKEN and DATABASE_URL included) and resolves once it logs the URL it listens on.
 */
export async function spawnServer(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<ServerProcess> {
  assertServerBuilt();
  const child = spawn(process.execPath, [BUILT_SERVER], {
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", PORT: "0", ANVIL_INSPECT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server did not start within ${readyTimeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
    }, readyTimeoutMs);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        entry = { msg: line };
      }
      logs.push(entry);
      if (typeof entry.msg === "string" && entry.msg.startsWith(READY)) {
        clearTimeout(timer);
        resolve(entry.msg.slice(READY.length).trim());
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(
          `the server exited (code ${code}, signal ${signal}) before it listened; stderr: ${stderr.slice(-2000)}`,
        ),
      );
    });
  });
  return {
    url,
    pid: child.pid!,
    child,
    logs,
    stderr: () => stderr,
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Kills every server in `servers` that still runs (for afterEach). */
export async function killAll(servers: ServerProcess[]): Promise<void> {
  await Promise.all(servers.splice(0).map((server) => server.kill("SIGKILL")));
}

/**
 * For the enclosing describe: checks that the server is built, and after each test kills every server still in
 * `servers`, then runs `cleanups` in reverse order (within `timeoutMs`). The tests push onto both.
 */
export function useBuiltServers(timeoutMs: number): { servers: ServerProcess[]; cleanups: Cleanup[] } {
  const servers: ServerProcess[] = [];
  const cleanups: Cleanup[] = [];
  beforeAll(() => assertServerBuilt());
  // One hook, so the servers are gone before what they use (simulators, databases) is undone.
  afterEach(async () => {
    await killAll(servers);
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, timeoutMs);
  return { servers, cleanups };
}

import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

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
 * Node options for the spawned server: `ANVIL_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench --
 * subscribers` profiles the server under the crowd (it writes its profile when it exits by itself, on SIGTERM).
 */
export const serverNodeArgs = (): string[] => process.env["ANVIL_SERVER_NODE_ARGS"]?.split(" ").filter(Boolean) ?? [];

/**
 * Spawns the server script `script` (a built `main.js`) with exactly `env` (plus PATH and HOME) and resolves once
 * it logs the URL it listens on. Free of vitest, so the bench uses it too.
 */
export function spawnScript(
  script: string,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<ServerProcess> {
  return spawnScriptUntil(script, env, READY, readyTimeoutMs);
}

/**
 * Spawns the server script `script` as {@link spawnScript} does, but resolves as soon as it logs a line whose
 * message starts with `until` (e.g. "creating the embedded database in", to stop it in the middle of its start).
 * `url` is what follows READY in that line, else "".
 */
export async function spawnScriptUntil(
  script: string,
  env: Record<string, string>,
  until: string,
  readyTimeoutMs = 60_000,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [...serverNodeArgs(), script], {
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "",
      PORT: "0",
      ANVIL_INSPECT: "0",
      ...env,
    },
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
      reject(
        new Error(`the server did not log "${until}" within ${readyTimeoutMs} ms; stderr: ${stderr.slice(-2000)}`),
      );
    }, readyTimeoutMs);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let entry: LogLine;
      try {
        entry = JSON.parse(line) as LogLine;
      } catch {
        entry = { msg: line };
      }
      logs.push(entry);
      if (typeof entry.msg === "string" && entry.msg.startsWith(until)) {
        clearTimeout(timer);
        resolve(entry.msg.startsWith(READY) ? entry.msg.slice(READY.length).trim() : "");
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

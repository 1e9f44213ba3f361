import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** The built `anvil` command (libs/client/dist), which this test runs but never builds. */
const CLI = resolve(import.meta.dirname, "../../dist/cli.js");

// A bound for a hang, not a speed: a new Node process starts in seconds on a loaded 2-core machine, past the 5 s default.
describe("the anvil command in a pipe whose reader stops early", { timeout: 30_000 }, () => {
  it("ends quietly with exit code 0 instead of a stack trace when stdout is closed (anvil … | head -1)", async () => {
    const child = spawn(process.execPath, [CLI, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    // The reader is gone before the command writes: its first write meets EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += String(chunk)));
    const code = await new Promise<number | null>((exited) => child.once("close", exited));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, useAnvilServer } from "../testing/anvil-server";
import { capturedOutput as output } from "../testing/captured-output";
import { runCli } from "./program";

/** The built `anvil` command (libs/client/dist), which this test runs but never builds. */
const CLI = resolve(import.meta.dirname, "../../dist/cli.js");

// A bound for a hang, not a speed: a new Node process starts in seconds on a loaded 2-core machine, past the 5 s default.
describe("the anvil command in a pipe whose reader stops early", { timeout: 30_000 }, () => {
  const url = useAnvilServer();

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

  it("still writes --out when the reader stops after the first line (submit --wait --out … | head -1)", async () => {
    const admin = { url: url(), token: ADMIN_TOKEN };
    const quiet = () => ({ stdout: output().stream, stderr: output().stream });
    const folder = await mkdtemp(join(tmpdir(), "anvil-piped-"));
    const out = join(folder, "piped.png");
    // Paused: the first line (the place in line) comes, the reader goes, and only then does the job run.
    expect(await runCli(["pause"], admin, quiet())).toBe(0);
    try {
      const child = spawn(
        process.execPath,
        [CLI, "submit", "an image read past a closed pipe", "--wait", "--out", out, "--steps", "2"],
        {
          stdio: ["ignore", "pipe", "pipe"],
          env: { PATH: process.env["PATH"] ?? "", ANVIL_URL: url(), ANVIL_TOKEN: ADMIN_TOKEN },
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += String(chunk)));
      const closed = new Promise<number | null>((exited) => child.once("close", exited));
      await new Promise((firstLine) => child.stdout.once("data", firstLine));
      child.stdout.destroy();
      expect(await runCli(["resume"], admin, quiet())).toBe(0);
      expect(await closed).toBe(0);
      expect(stderr).toMatch(/^anvil: the queue is paused[^\n]*\nanvil: submitted job \S+\n$/);
      expect((await readFile(out)).subarray(1, 4).toString()).toBe("PNG");
    } finally {
      await runCli(["resume"], admin, quiet());
      await rm(folder, { recursive: true, force: true });
    }
  });
});

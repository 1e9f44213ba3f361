import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ADMIN_TOKEN, useAnvilServer } from "../testing/anvil-server";

/** The repository root, where the README's `npm run anvil` lines are typed. */
const ROOT = resolve(import.meta.dirname, "../../../..");

/** The README's command-line example whose comment ends with `marker`, as a reader would copy it. */
const readmeLine = async (marker: string): Promise<string> => {
  const readme = await readFile(resolve(ROOT, "README.md"), "utf8");
  const line = readme.split("\n").find((l) => l.trimEnd().endsWith(`# ${marker}`));
  if (!line) throw new Error(`README.md has no example marked "# ${marker}"`);
  return line.slice(0, line.lastIndexOf("#")).trim();
};

describe("the README's command-line examples", { timeout: 60_000 }, () => {
  const url = useAnvilServer({ ANVIL_SIMULATOR_STEP_MS: "5" });
  /** What a reader's shell passes on: their PATH and HOME, and the server and token the README tells them to set. */
  const typedEnv = () => ({
    PATH: process.env["PATH"] ?? "",
    HOME: process.env["HOME"] ?? "",
    ANVIL_URL: url(),
    ANVIL_TOKEN: ADMIN_TOKEN,
  });

  it("writes --out where the command was typed, not in the project's root where npm runs it", async () => {
    const typedIn = await mkdtemp(resolve(tmpdir(), "anvil-out-"));
    const out = `fox-${process.pid}.png`;
    try {
      // npm run from another folder (--prefix: the project's), as from a subfolder of it: npm runs it in the root.
      await promisify(execFile)(
        "npm",
        ["--prefix", ROOT, "run", "-s", "anvil", "--", "submit", "a red fox", "--wait", "--out", out, "--steps", "2"],
        {
          cwd: typedIn,
          env: typedEnv(),
        },
      );
      expect((await stat(resolve(typedIn, out))).size).toBeGreaterThan(0);
      await expect(stat(resolve(ROOT, out))).rejects.toThrow(/ENOENT/);
    } finally {
      await rm(typedIn, { recursive: true, force: true });
      await rm(resolve(ROOT, out), { force: true });
    }
  });

  it("prints only JSON on stdout for the JSON-for-scripts example, so a pipe into jq parses it", async () => {
    const line = await readmeLine("JSON for scripts");
    // The pipe's reader is jq in the README; the JSON it reads is what stdout carries before the pipe.
    const command = line.slice(0, line.indexOf("|")).trim();
    expect(command).toMatch(/ --json /);
    const { stdout } = await promisify(execFile)("sh", ["-c", command], {
      cwd: ROOT,
      env: typedEnv(),
    });
    const job = JSON.parse(stdout) as { status: string; imageUrl: string };
    expect(job).toMatchObject({ status: "complete", imageUrl: expect.stringMatching(/^\/images\/.+\.png$/) });
  });
});

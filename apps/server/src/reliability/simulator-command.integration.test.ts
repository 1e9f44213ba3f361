import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SIMULATOR = fileURLToPath(new URL("../../dist/simulator.js", import.meta.url));

/** `node dist/simulator.js` (what `npm run simulator` runs) with exactly `env`: its output's lines and its exit. */
const start = (env: Record<string, string>) => {
  const child = spawn(process.execPath, [SIMULATOR], {
    env: { PATH: process.env["PATH"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on("line", (l) => lines.push(l));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return { child, lines, exited };
};

describe("npm run simulator, a Forge simulator on its own for a cluster without a GPU", { timeout: 30_000 }, () => {
  it("serves Forge's API where it says, and stops with exit 0 on SIGTERM", async () => {
    const { child, lines, exited } = start({ PORT: "0", ANVIL_SIMULATOR_STEP_MS: "5" });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL in ${JSON.stringify(lines)}`)), 20_000);
        const check = setInterval(() => {
          const found = lines.map((line) => /^Forge simulator at (http:\/\/\S+) \(5 ms a step\)/.exec(line)?.[1]);
          const first = found.find(Boolean);
          if (first) {
            clearTimeout(timer);
            clearInterval(check);
            resolve(first);
          }
        }, 20);
      });
      const models = (await (await fetch(`${url}/sdapi/v1/sd-models`)).json()) as { model_name: string }[];
      expect(models.length).toBeGreaterThan(0);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("refuses a bad setting in one line naming it, with exit 1", async () => {
    const { lines, exited } = start({ PORT: "7860x" });
    expect(await exited).toBe(1);
    expect(lines).toEqual([
      'Invalid environment: PORT "7860x" must be a whole number in decimal digits alone, 0..65535',
    ]);
  });
});

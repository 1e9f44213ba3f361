import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const check = (file: string) =>
  spawnSync(process.execPath, ["scripts/require-built.mjs", file], { cwd: REPO, encoding: "utf8" });

describe("npm run serve before a build", () => {
  it("stops with a line that says to build, not Node's stack trace for a missing module", () => {
    const missing = check("apps/server/dist-never-built/main.js");
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toBe(
      "apps/server/dist-never-built/main.js is missing: Anvil is not built. Run `npm run build` first (or " +
        "`npm start`, which builds, then serves).",
    );
    const present = check("package.json");
    expect([present.status, present.stderr]).toEqual([0, ""]);
  });

  it("is checked before serve and simulator, for the very file each starts", () => {
    const { scripts } = JSON.parse(readFileSync(`${REPO}package.json`, "utf8")) as { scripts: Record<string, string> };
    for (const name of ["serve", "simulator"]) {
      const started = /node (\S+)$/.exec(scripts[name]!)?.[1];
      expect(started, name).toMatch(/^apps\/server\/dist\/\w+\.js$/);
      expect(scripts[`pre${name}`], name).toBe(`node scripts/require-built.mjs ${started}`);
    }
  });
});

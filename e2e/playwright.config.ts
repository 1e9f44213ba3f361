import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "@playwright/test";

const DEBIAN_CHROMIUM = "/usr/bin/chromium";
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.E2E_PORT ?? 3310);
const baseURL = `http://127.0.0.1:${port}`;
// Workers load this file again; the environment carries the first run's directory to them, so there is one. The
// process that made it removes it as it exits, once Playwright has stopped the server that used it (a worker exits
// earlier, and leaves it alone).
if (process.env.ANVIL_E2E_DATA_DIR === undefined) {
  const dataDir = mkdtempSync(join(tmpdir(), "anvil-e2e-"));
  process.env.ANVIL_E2E_DATA_DIR = dataDir;
  process.once("exit", () => rmSync(dataDir, { recursive: true, force: true }));
}

/** End-to-end tests of the built server and web app in Chromium, on a fresh embedded database per run. */
export default defineConfig({
  testDir: "specs",
  outputDir: "test-results",
  fullyParallel: false,
  workers: 1,
  // No retries: every spec holds the GPU with a job of its own for as long as it looks at the line, so a failure
  // is a bug to read, not a slow machine to hide.
  retries: 0,
  // A bound for a hang, not a speed: on a busy 2-core CI two browser contexts alone can take half of 30 s.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: process.env.CI ? [["list"], ["html", { open: "never", outputFolder: "playwright-report" }]] : "list",
  use: {
    baseURL,
    // Recording a trace of every spec made the run a half longer (4.7–5.0 min against 3.2), so a run records none
    // unless asked: `E2E_TRACE=1 npm run e2e` keeps a failing spec's trace (there is no retry to record one). A
    // failure always leaves its error-context.md (the page's accessibility tree) and a screenshot.
    trace: process.env.E2E_TRACE === "1" ? "retain-on-failure" : "off",
    screenshot: "only-on-failure",
    // The app's endless animations (a running card's shimmer, a badge's pulse) repaint every frame in software:
    // asking for less motion, as some people do, halves Chromium's CPU (280 s to 157 s a run), which matters while
    // other tests run beside these (scripts/test.mjs). accessibility.spec.ts checks the motion itself.
    reducedMotion: "reduce",
    launchOptions: {
      // As scripts/ensure-chromium.mjs finds it: $CHROMIUM_PATH, Debian's, or else Playwright's own (undefined).
      executablePath: process.env.CHROMIUM_PATH ?? (existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined),
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    },
  },
  webServer: {
    command: "node apps/server/dist/main.js",
    cwd: repoRoot,
    url: `${baseURL}/trpc/health`,
    reuseExistingServer: false,
    // The first start of a new embedded database takes a while.
    timeout: 120_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: process.env.ANVIL_E2E_DATA_DIR,
      // 60 ms a step: a 512×512 job of 10 steps takes about a second on the built-in simulator.
      ANVIL_SIMULATOR_STEP_MS: "60",
      FORGE_URL: "",
      DATABASE_URL: "",
      API_TOKEN: "",
      LOG_LEVEL: "warn",
      // On by default outside production anyway; said here because specs/inspect.spec.ts depends on it.
      ANVIL_INSPECT: "1",
    },
  },
});

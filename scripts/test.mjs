// `npm test` after its pretest (Chromium found, everything built). Two phases, so that both of the machine's cores
// are used and the server's tests still have the machine to themselves:
//
// 1. The browser tests, beside every project's lint and typecheck and then the libraries' and the web app's tests,
//    one task at a time. The browser tests mostly wait on jobs and pages (about one core of CPU).
// 2. The server's tests alone: they start real processes (built servers, Forge simulators, PostgreSQL databases)
//    and time what they do, four test files at a time.
//
// Each line of the first phase is prefixed with what printed it. A failure in the first phase stops the run after
// it, as a failing lint stopped the tests before; the exit code is the first failure's. docs/PERFORMANCE.md ("The
// test suite's time") has what this saves.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** Runs `command` with its output's lines prefixed by `label`; resolves with its exit code. */
function run(label, command, args) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream }).on("line", (line) => out.write(label ? `${label} ${line}\n` : `${line}\n`));
  }
  return new Promise((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`${label} could not start ${command}: ${error.message}\n`);
      resolve(1);
    });
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const say = (message) => console.log(`test: ${message}`);

/** Runs each step of `steps` after the last one passed; resolves with the first failure's code, else 0. */
async function inTurn(label, steps) {
  for (const args of steps) {
    const code = await run(label, npx, args);
    if (code !== 0) return code;
  }
  return 0;
}

const started = Date.now();
const nx = (...args) => ["nx", "run-many", ...args, "--parallel=1", "--outputStyle=stream"];
say("phase 1 of 2: the browser tests, beside lint, typecheck and the libraries' and web app's tests");
const firstPhase = await Promise.all([
  run("e2e   │", npx, ["playwright", "test", "-c", "e2e/playwright.config.ts"]),
  inTurn("check │", [nx("-t", "lint", "typecheck"), nx("-t", "test", "--exclude=server")]),
]);
const failed = firstPhase.find((code) => code !== 0);
if (failed !== undefined) {
  const which = [firstPhase[0] !== 0 && "the browser tests", firstPhase[1] !== 0 && "lint, typecheck or a test"];
  say(`${which.filter(Boolean).join(" and ")} failed; the server's tests did not run`);
  process.exit(failed);
}
say(`phase 1 passed in ${Math.round((Date.now() - started) / 1000)} s; phase 2 of 2: the server's tests`);
const code = await run("", npx, ["nx", "run", "server:test", "--outputStyle=stream"]);
say(`${code === 0 ? "passed" : "failed"} in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(code);

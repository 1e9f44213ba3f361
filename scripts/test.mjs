// `npm test` after its pretest (Chromium found, everything built). Two phases, each with two lanes, so that both of
// the machine's cores are used while the server's tests get as much of it as the rest allows:
//
// 1. The browser tests (which mostly wait on jobs and pages, about one core), beside every project's lint and
//    typecheck and then the persistence library's tests (the heaviest of the libraries', two databases each).
// 2. The server's tests (real processes, timed: built servers, Forge simulators, PostgreSQL databases), beside the
//    other libraries' and the web app's tests, one at a time.
//
// Each line is prefixed with the lane that printed it. A failure in the first phase stops the run after it, as a
// failing lint stopped the tests before; the exit code is the first failure's. docs/PERFORMANCE.md ("The test
// suite's time") has what this saves.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** Runs `command` with its output's lines prefixed by `label`; resolves with its exit code. */
function run(label, command, args) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream }).on("line", (line) => out.write(`${label} ${line}\n`));
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
const seconds = () => Math.round((Date.now() - started) / 1000);

say("phase 1 of 2: the browser tests, beside lint, typecheck and the persistence library's tests");
const firstPhase = await Promise.all([
  run("e2e    │", npx, ["playwright", "test", "-c", "e2e/playwright.config.ts"]),
  inTurn("check  │", [nx("-t", "lint", "typecheck"), nx("-t", "test", "-p", "persistence")]),
]);
const failed = firstPhase.find((code) => code !== 0);
if (failed !== undefined) {
  const which = [firstPhase[0] !== 0 && "the browser tests", firstPhase[1] !== 0 && "lint, typecheck or a test"];
  say(`${which.filter(Boolean).join(" and ")} failed; the other projects' tests did not run`);
  process.exit(failed);
}
say(`phase 1 passed in ${seconds()} s; phase 2 of 2: the server's tests, beside the other projects' tests`);
const secondPhase = await Promise.all([
  run("server │", npx, ["nx", "run", "server:test", "--outputStyle=stream"]),
  inTurn("libs   │", [nx("-t", "test", "--exclude=server,persistence")]),
]);
const code = secondPhase.find((code) => code !== 0) ?? 0;
say(`${code === 0 ? "passed" : "failed"} in ${seconds()} s`);
process.exit(code);

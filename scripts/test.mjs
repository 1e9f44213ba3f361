// `npm test` after its pretest (Chromium found, everything built). Two phases, so that the machine's cores are used:
//
// 1. The browser tests beside the projects' lint and typecheck, one task at a time. The browser tests mostly wait
//    on jobs and pages (about one core of CPU); lint and typecheck need no timing and take the other core.
// 2. The projects' unit, integration and component tests, two projects at a time, with the machine to themselves:
//    the server's tests start real processes and time what they do.
//
// Each phase's lines are prefixed with what printed them. A failure in the first phase stops the run after it, as a
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

const started = Date.now();
say("phase 1 of 2: the browser tests, beside lint and typecheck");
const firstPhase = await Promise.all([
  run("e2e   │", npx, ["playwright", "test", "-c", "e2e/playwright.config.ts"]),
  run("check │", npx, ["nx", "run-many", "-t", "lint", "typecheck", "--parallel=1", "--outputStyle=stream"]),
]);
const failed = firstPhase.find((code) => code !== 0);
if (failed !== undefined) {
  const which = [firstPhase[0] !== 0 && "the browser tests", firstPhase[1] !== 0 && "lint or typecheck"];
  say(`${which.filter(Boolean).join(" and ")} failed; the projects' tests did not run`);
  process.exit(failed);
}
say(`phase 1 passed in ${Math.round((Date.now() - started) / 1000)} s; phase 2 of 2: the projects' tests`);
const code = await run("", npx, ["nx", "run-many", "-t", "test", "--outputStyle=stream"]);
say(`${code === 0 ? "passed" : "failed"} in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(code);

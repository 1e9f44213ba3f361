// `npm test` after its pretest (Chromium found, everything built). Two phases of two lanes each, so that both of the
// machine's cores are used and the server's tests share them with as little as possible:
//
// 1. The browser tests (which mostly wait on jobs and pages, about one core), beside every project's lint and
//    typecheck and then the libraries' and web app's tests, one at a time, for as long as the browser tests run.
// 2. The server's tests (real processes, timed: built servers, Forge simulators, PostgreSQL databases), beside the
//    libraries' tests the first phase did not reach.
//
// Each line is prefixed with the lane that printed it. A failure in the first phase stops the run after it, as a
// failing lint stopped the tests before; the exit code is the first failure's. docs/PERFORMANCE.md ("The test
// suite's time") has what this saves.
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";

// The lane beside the one that sets a phase's length runs at a lower CPU priority (`nice`, inherited by everything it
// starts): it takes what the longer lane leaves of the two cores instead of slowing it down by half.
const niceness = process.platform === "win32" ? [] : ["nice", "-n", "10"];

/**
 * Runs `command` with its output's lines prefixed by `label`, at a lower priority when `background`; resolves with
 * its exit code.
 */
function run(label, command, args, { background = false } = {}) {
  const [program, ...rest] = background && niceness.length > 0 ? [...niceness, command, ...args] : [command, ...args];
  const child = spawn(program, rest, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
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
    // "close", not "exit": the last lines of its output are through by then.
    child.once("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const say = (message) => console.log(`test: ${message}`);

const started = Date.now();
const seconds = () => Math.round((Date.now() - started) / 1000);
const nx = (...args) => ["nx", "run-many", ...args, "--parallel=1", "--outputStyle=stream"];
// Every project with tests but the server's, the heaviest first, so that what is left for the second phase is light.
const heaviestFirst = ["persistence", "client", "web", "api", "forge-client", "job-machine"];
const rank = (project) => (heaviestFirst.includes(project) ? heaviestFirst.indexOf(project) : heaviestFirst.length);
const libraryTests = JSON.parse(
  execFileSync(npx, ["nx", "show", "projects", "--with-target", "test", "--json"], { encoding: "utf8" }),
)
  .filter((project) => project !== "server")
  .sort((a, b) => rank(a) - rank(b));

say("phase 1 of 2: the browser tests, beside lint, typecheck and the libraries' tests");
let browserTestsDone = false;
const firstPhase = await Promise.all([
  run("e2e    │", npx, ["playwright", "test", "-c", "e2e/playwright.config.ts"]).finally(
    () => (browserTestsDone = true),
  ),
  (async () => {
    const checked = await run("check  │", npx, nx("-t", "lint", "typecheck"), { background: true });
    if (checked !== 0) return checked;
    while (libraryTests.length > 0 && !browserTestsDone) {
      const tested = await run("check  │", npx, nx("-t", "test", "-p", libraryTests.shift()), { background: true });
      if (tested !== 0) return tested;
    }
    return 0;
  })(),
]);
const failed = firstPhase.find((code) => code !== 0);
if (failed !== undefined) {
  const which = [firstPhase[0] !== 0 && "the browser tests", firstPhase[1] !== 0 && "lint, typecheck or a test"];
  say(`${which.filter(Boolean).join(" and ")} failed; the other projects' tests did not run`);
  process.exit(failed);
}
const left = libraryTests.length > 0 ? `, beside the tests of ${libraryTests.join(", ")}` : "";
say(`phase 1 passed in ${seconds()} s; phase 2 of 2: the server's tests${left}`);
const secondPhase = await Promise.all([
  run("server │", npx, ["nx", "run", "server:test", "--outputStyle=stream"]),
  libraryTests.length > 0
    ? run("libs   │", npx, nx("-t", "test", "-p", libraryTests.join(",")), { background: true })
    : 0,
]);
const code = secondPhase.find((code) => code !== 0) ?? 0;
say(`${code === 0 ? "passed" : "failed"} in ${seconds()} s`);
process.exit(code);

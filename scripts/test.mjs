// `npm test` after its pretest (Chromium found, everything built). Two lanes, so that both of the machine's cores are
// used and the server's tests share them with as little as possible:
//
// - the main lane: the browser tests (which mostly wait on jobs and pages, about one core), then the server's tests
//   (real processes, timed: built servers, Forge simulators, PostgreSQL databases), then library tests;
// - the side lane, at a lower CPU priority: every project's lint and typecheck, then library tests.
//
// The libraries' and web app's tests wait in one queue, heaviest first, and whichever lane is free takes the next, so
// that neither core idles while work is left. Each line is prefixed with the task that printed it. After a failure no
// lane starts anything new; what runs finishes, and the exit code is the first failure's. docs/PERFORMANCE.md ("The
// test suite's time") has what this saves.
import { execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";

// The side lane runs at a lower CPU priority (`nice`, inherited by everything it starts): it takes what the main lane,
// which sets the run's length, leaves of the two cores instead of slowing it down by half.
const niceness = process.platform === "win32" ? [] : ["nice", "-n", "10"];

/**
 * Runs `command` with its output's lines prefixed by `label`, at a lower priority when `background`; resolves with
 * its exit code and its output's lines (both streams, in the order they came).
 */
function run(label, command, args, { background = false } = {}) {
  const lines = [];
  const [program, ...rest] = background && niceness.length > 0 ? [...niceness, command, ...args] : [command, ...args];
  const child = spawn(program, rest, { stdio: ["ignore", "pipe", "pipe"], env: process.env });
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream }).on("line", (line) => {
      lines.push(line);
      out.write(`${label} ${line}\n`);
    });
  }
  return new Promise((resolve) => {
    child.once("error", (error) => {
      process.stderr.write(`${label} could not start ${command}: ${error.message}\n`);
      resolve({ code: 1, lines: [`could not start ${command}: ${error.message}`] });
    });
    // "close", not "exit": the last lines of its output are through by then.
    child.once("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), lines }));
  });
}

const npx = process.platform === "win32" ? "npx.cmd" : "npx";
const say = (message) => console.log(`test: ${message}`);

const started = Date.now();
const seconds = () => Math.round((Date.now() - started) / 1000);
const nx = (...args) => ["nx", "run-many", ...args, "--parallel=1", "--outputStyle=stream"];
// Every project with tests but the server's, the heaviest first, so that what is left at the end is light.
const heaviestFirst = ["persistence", "client", "job-machine", "forge-client", "api", "web"];
const rank = (project) => (heaviestFirst.includes(project) ? heaviestFirst.indexOf(project) : heaviestFirst.length);
const libraryTests = JSON.parse(
  execFileSync(npx, ["nx", "show", "projects", "--with-target", "test", "--json"], { encoding: "utf8" }),
)
  .filter((project) => project !== "server")
  .sort((a, b) => rank(a) - rank(b));

/** A task's prefix for its lines: its name, padded so that the lines of all tasks line up. */
const labelWidth = Math.max("server".length, ...libraryTests.map((project) => project.length));
const label = (name) => `${name.padEnd(labelWidth)} │`;

/** The first failure, as `{ what, code, lines }`; once set, no lane starts another task. */
let failure;
/** What did not start because something had failed. */
const notRun = [];
/** Runs one task unless something failed already (then notes that it did not run); remembers the first failure. */
async function task(what, prefix, command, args, options) {
  if (failure) {
    notRun.push(what);
    return false;
  }
  const begun = Date.now();
  const { code, lines } = await run(prefix, command, args, options);
  say(
    `${what} ${code === 0 ? "passed" : "failed"} in ${Math.round((Date.now() - begun) / 1000)} s (at ${seconds()} s)`,
  );
  if (code !== 0) failure ??= { what, code, lines };
  return code === 0;
}
/** Takes library tests from the shared queue until it is empty. */
async function libraries(options) {
  for (let project = libraryTests.shift(); project; project = libraryTests.shift()) {
    await task(`${project}'s tests`, label(project), npx, nx("-t", "test", "-p", project), options);
  }
}

/**
 * The part of a failed task's output that says what failed: from vitest's "Failed Tests" (or "Unhandled Errors")
 * section or Playwright's first numbered failure, else its last lines. The lanes' lines are interleaved above, and a
 * CI log that keeps only its tail would otherwise end in another task's passing tests.
 */
function whyItFailed(lines) {
  const plain = lines.map((line) => line.replace(/\x1b\[[0-9;]*m/g, ""));
  const start = plain.findIndex((line) => /Failed Tests \d+|Unhandled Errors?\b|^\s*\d+\) \[/.test(line));
  const from = start === -1 ? Math.max(0, plain.length - 40) : start;
  const shown = plain.slice(from, from + 40);
  const summary = plain.slice(Math.max(from + shown.length, plain.length - 8));
  return [...shown, ...(summary.length > 0 ? ["…", ...summary] : [])];
}

say("the browser tests, then the server's; beside them lint, typecheck and then the libraries' tests");
await Promise.all([
  (async () => {
    await task("the browser tests", label("e2e"), npx, ["playwright", "test", "-c", "e2e/playwright.config.ts"]);
    await task("the server's tests", label("server"), npx, ["nx", "run", "server:test", "--outputStyle=stream"]);
    await libraries({});
  })(),
  (async () => {
    await task("lint and typecheck", label("check"), npx, nx("-t", "lint", "typecheck"), { background: true });
    await libraries({ background: true });
  })(),
]);
if (failure) {
  say(`${failure.what} failed; what it printed of the failure (its whole output is above, among the other tasks'):`);
  for (const line of whyItFailed(failure.lines)) console.log(`  ${line}`);
  const skipped = notRun.length > 0 ? `; did not run ${notRun.join(", ")}` : "";
  say(`${failure.what} failed${skipped}; ${seconds()} s in all`);
  process.exit(failure.code);
}
say(`passed in ${seconds()} s`);

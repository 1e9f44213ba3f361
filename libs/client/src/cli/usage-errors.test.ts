import { describe, expect, it } from "vitest";
import { capturedOutput as capture } from "../testing/captured-output";
import { runCli } from "./program";

/** Runs the command against an address where nothing is asked: a usage error is found before any call. */
const run = async (args: string[]) => {
  const stdout = capture();
  const stderr = capture();
  const code = await runCli(
    args,
    { url: "http://127.0.0.1:9", token: undefined },
    { stdout: stdout.stream, stderr: stderr.stream },
  );
  return { code, stdout: stdout.text(), stderr: stderr.text() };
};

describe("the anvil command's usage errors", () => {
  it.each([
    ["submit", "a cat", "--steps", "abc", '--steps "abc" is not a number: it takes a whole number from 1 to 150'],
    ["submit", "a cat", "--width", "wide", '--width "wide" is not a number: it takes a whole number from 64 to 2048'],
    ["submit", "a cat", "--height", "", '--height "" is not a number: it takes a whole number from 64 to 2048'],
    ["submit", "a cat", "--cfg-scale", "1,5", '--cfg-scale "1,5" is not a number: it takes a number from 0 to 30'],
    ["submit", "a cat", "--distilled-cfg", "x", '--distilled-cfg "x" is not a number: it takes a number from 0 to 30'],
    ["submit", "a cat", "--seed", "random", '--seed "random" is not a number: it takes a whole number from 0 to'],
    ["submit", "a cat", "--priority", "high", '--priority "high" is not a number: it takes a whole number from -10'],
    ["jobs", "--limit", "all", '--limit "all" is not a number: it takes a whole number from 1 to 500'],
  ])("names the option, what was given and what it takes for %s %s %s %s", async (...args) => {
    const said = args.pop()!;
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    // One line, the command's own, without commander's "error: option … is invalid." and the whole help after it.
    expect(stderr).toMatch(/^anvil: [^\n]+\n$/);
    expect(stderr).toContain(`anvil: ${said}`);
  });

  it("names the status it does not know, and the ones there are", async () => {
    const { code, stderr } = await run(["jobs", "--status", "queued,done"]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'anvil: --status "done" is not a status: it takes queued, processing, complete, error, cancelled, one or ' +
        "several comma-separated\n",
    );
  });

  it.each([
    [["submit"], "anvil: missing required argument 'prompt'", "anvil submit --help"],
    [
      ["submit", "a cat", "--stpes", "3"],
      "anvil: unknown option '--stpes'\n(Did you mean --steps?)",
      "anvil submit --help",
    ],
    [["frobnicate"], "anvil: unknown command 'frobnicate'", "anvil --help"],
    [["users", "ad", "carol"], "anvil: unknown command 'ad'\n(Did you mean add?)", "anvil users --help"],
    [
      ["move", "x", "sideways"],
      "anvil: command-argument value 'sideways' is invalid for argument 'where'.",
      "anvil move --help",
    ],
  ])("refuses %j in the command's own words, then names the help to read", async (args, said, help) => {
    const { code, stdout, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.startsWith(said), stderr).toBe(true);
    expect(stderr.endsWith(`\n(${help} shows how to use it)\n`), stderr).toBe(true);
    // The refusal and the pointer to the help, not the whole help after it.
    expect(stderr).not.toContain("Usage:");
  });
});

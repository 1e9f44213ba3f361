#!/usr/bin/env node
import { readCliEnv } from "./cli/env";
import { runCli } from "./cli/program";

process.exitCode = await runCli(process.argv.slice(2), readCliEnv(), {
  stdout: process.stdout,
  stderr: process.stderr,
});

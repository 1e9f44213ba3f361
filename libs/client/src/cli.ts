#!/usr/bin/env node
import { folderTypedIn, readCliEnv } from "./cli/env";
import { EXIT } from "./cli/exit-codes";
import { runCli } from "./cli/program";

// A reader that stops early (`anvil jobs | head -1`) closes the pipe: the next write fails with EPIPE, which would
// end the command with Node's stack trace. Like other command-line tools, it stops quietly instead; unless it has an
// image to write (`submit --wait --out fox.png | head -1`): then it goes on without stdout (a closed stream takes
// further writes as nothing), writes the file, and its exit code says how the job ended.
let writesFile = false;
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    if (stream === process.stdout && writesFile) return;
    process.exit(EXIT.done);
  });
}

// A relative `--out fox.png` means the folder the command was typed in, also under `npm run anvil`.
const typedIn = folderTypedIn();
if (typedIn) process.chdir(typedIn);

process.exitCode = await runCli(process.argv.slice(2), readCliEnv(), {
  stdout: process.stdout,
  stderr: process.stderr,
  writesFile: () => (writesFile = true),
});

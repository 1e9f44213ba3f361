import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startBuiltServer } from "./anvil-server";

// Making the embedded database costs PGlite several seconds of CPU: the built server makes it here once per run, and
// each suite's server starts on a copy, as on any later start of an existing DATA_DIR.
/** Has the built server make a DATA_DIR and stop cleanly in it (its lock given back); removes it after the run. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "anvil-client-template-"));
  const { child } = await startBuiltServer(dir);
  const exited = new Promise<number | null>((done) => child.once("exit", done));
  child.kill("SIGTERM");
  const code = await exited;
  if (code !== 0) throw new Error(`the server making the DATA_DIR template exited with ${code}, not 0`);
  project.provide("dataDirTemplate", dir);
  return () => rm(dir, { recursive: true, force: true });
}

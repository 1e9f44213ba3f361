import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { PGlite } from "@electric-sql/pglite";

const run = promisify(execFile);

/**
 * PGlite's own start parameters (its `defaultStartParams`) with smaller buffers. PostgreSQL's defaults are sized for a
 * server of its own (shared_buffers 128 MB, maintenance_work_mem 64 MB); Anvil's tables are small and the embedded
 * database shares its process with the server, so 16 MB of shared buffers take ~120 MB off the resident memory of
 * an idle server at no cost that the bench can see. WASM memory never shrinks once grown, so what is not
 * reserved here is never resident.
 */
export const PGLITE_START_PARAMS: readonly string[] = [
  ...PGlite.defaultStartParams,
  "-c",
  "shared_buffers=16MB",
  "-c",
  "maintenance_work_mem=16MB",
  "-c",
  "temp_buffers=4MB",
];

/**
 * Makes a new embedded database in `path` (initdb) in a short-lived child process, when there is none yet: the
 * process that runs PGlite's initdb keeps ~450 MB of it resident for its whole life (the initdb module and its
 * memory are not given back), which was most of an idle server's 850 MB. The server then opens the finished
 * database like any existing one.
 */
export async function initdbApart(path: string): Promise<void> {
  if (existsSync(join(path, "PG_VERSION"))) return;
  // The same PGlite this process loads (its CommonJS build), wherever node_modules is.
  const pglite = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const script = [
    `const { PGlite } = require(${JSON.stringify(pglite)});`,
    `PGlite.create({ dataDir: ${JSON.stringify(path)} }).then((db) => db.close());`,
  ].join("\n");
  await run(process.execPath, ["-e", script], { timeout: 120_000 });
}

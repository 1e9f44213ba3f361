import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
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

/** The scratch folders, beside the database's, that a new database is made in before it is moved into place. */
const SCRATCH_PREFIX = ".pglite-initdb-";

/**
 * Makes a new embedded database in `path` (initdb) in a short-lived child process, when there is none yet: the
 * process that runs PGlite's initdb keeps ~450 MB of it resident for its whole life (the initdb module and its
 * memory are not given back), which was most of an idle server's 850 MB. The server then opens the finished
 * database like any existing one.
 *
 * The database is made in a scratch folder beside `path` and moved into place once whole, so that a first start cut
 * short (SIGTERM, Ctrl-C, a crash) never leaves a half-made database where the next start looks. The child is killed
 * when `signal` aborts (a stop during start-up) or this process exits; when this process was killed itself, the child
 * ends once its event loop notices (initdb runs in one synchronous stretch of seconds to tens of seconds, writing only
 * into its scratch folder). The caller holds the folder (the DATA_DIR lock): scratch folders it finds are leftovers of
 * a start that ended.
 */
export async function initdbApart(path: string, signal?: AbortSignal): Promise<void> {
  if (existsSync(join(path, "PG_VERSION"))) return;
  const parent = dirname(path);
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(SCRATCH_PREFIX)) await rm(join(parent, entry), { recursive: true, force: true });
  }
  const scratch = await mkdtemp(join(parent, SCRATCH_PREFIX));
  // The same PGlite this process loads (its CommonJS build), wherever node_modules is.
  const pglite = createRequire(import.meta.url).resolve("@electric-sql/pglite");
  const script = [
    `const { PGlite } = require(${JSON.stringify(pglite)});`,
    "const parent = process.ppid;",
    "setInterval(() => { if (process.ppid !== parent) process.exit(1); }, 250).unref();",
    `PGlite.create({ dataDir: ${JSON.stringify(scratch)} }).then((db) => db.close());`,
  ].join("\n");
  const initdb = run(process.execPath, ["-e", script], { timeout: 120_000, killSignal: "SIGKILL" });
  // A process that exits runs its 'exit' listeners synchronously, and a kill is a synchronous system call. The signal
  // is not execFile's own: that sends SIGTERM and rejects before the child has ended, while this kill settles `initdb`
  // only once the child is gone, so the catch below removes a scratch folder nothing writes into any more.
  const endChild = (): void => void initdb.child.kill("SIGKILL");
  process.once("exit", endChild);
  signal?.addEventListener("abort", endChild, { once: true });
  if (signal?.aborted) endChild();
  try {
    await initdb.finally(() => {
      process.off("exit", endChild);
      signal?.removeEventListener("abort", endChild);
    });
    // What is there holds no database (no PG_VERSION): the empty folder the caller made, or what an older Anvil's
    // start cut short left half made. Anything else is not ours to delete: it is kept beside, under a name that says so.
    const left = existsSync(path) ? await readdir(path) : [];
    if (left.length > 0) await rename(path, `${path}.incomplete-${Date.now()}`);
    else await rm(path, { recursive: true, force: true });
    await rename(scratch, path);
  } catch (error) {
    await rm(scratch, { recursive: true, force: true });
    // execFile says only "The operation was aborted": the caller's reason says why.
    throw signal?.aborted ? signal.reason : error;
  }
}

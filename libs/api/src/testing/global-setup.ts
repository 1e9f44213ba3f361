import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultMigrationsFolder } from "@anvil/persistence";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** A dumpDataDir() tarball of a freshly migrated PGlite, for openDatabase's `pglite.loadDataDir`. */
    pgliteTemplateDump: string;
  }
}

// initdb and the migrations cost PGlite several seconds of CPU: they run once per test run, and every test file
// loads the result instead (as libs/persistence's own suites do).
/** Builds the migrated PGlite template once per run and removes it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "anvil-api-pglite-template-"));
  const client = await PGlite.create();
  await migrate(drizzle({ client }), { migrationsFolder: defaultMigrationsFolder });
  const dump = await client.dumpDataDir("none");
  await client.close();
  const file = join(dir, "pglite.tar");
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide("pgliteTemplateDump", file);
  return () => rm(dir, { recursive: true, force: true });
}

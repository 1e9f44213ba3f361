import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import type { TestProject } from "vitest/node";
import { defaultMigrationsFolder } from "../database";

declare module "vitest" {
  export interface ProvidedContext {
    /** A dumpDataDir() tarball of a freshly migrated PGlite, for openDatabase's `pglite.loadDataDir`. */
    pgliteTemplateDump: string;
  }
}

// initdb costs PGlite about five seconds of CPU. It runs here once per test run; every test file then loads
// the migrated result in about one.
/** Builds the migrated PGlite template once per run and removes it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "anvil-pglite-template-"));
  const client = await PGlite.create();
  await migrate(drizzle({ client }), { migrationsFolder: defaultMigrationsFolder });
  const dump = await client.dumpDataDir("none");
  await client.close();
  const file = join(dir, "pglite.tar");
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide("pgliteTemplateDump", file);
  return () => rm(dir, { recursive: true, force: true });
}

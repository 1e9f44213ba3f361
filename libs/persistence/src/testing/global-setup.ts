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
    /** The same before any migration (initdb's alone), for a database as a server of an older version left it. */
    pgliteBlankDump: string;
  }
}

// initdb costs PGlite about five seconds of CPU. It runs here once per test run; every test file then loads
// the migrated result in about one.
/** Builds the PGlite templates (blank and migrated) once per run and removes them afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "anvil-pglite-template-"));
  const client = await PGlite.create();
  const dump = async (name: string) => {
    const file = join(dir, name);
    await writeFile(file, Buffer.from(await (await client.dumpDataDir("none")).arrayBuffer()));
    return file;
  };
  project.provide("pgliteBlankDump", await dump("blank.tar"));
  await migrate(drizzle({ client }), { migrationsFolder: defaultMigrationsFolder });
  project.provide("pgliteTemplateDump", await dump("pglite.tar"));
  await client.close();
  return () => rm(dir, { recursive: true, force: true });
}

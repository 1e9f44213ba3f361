import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultMigrationsFolder, openDatabase } from "@anvil/persistence";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** A migrated PGlite `dataDir` for startAnvil: copy it, never open it in place. */
    pgliteTemplateDir: string;
    /** TEST_DATABASE_URL, or "" when the suites run on PGlite only. */
    testDatabaseUrl: string;
  }
}

const NODE_MODULES = fileURLToPath(new URL("../../../../node_modules", import.meta.url));
const CACHE = join(NODE_MODULES, ".cache", "anvil-server-tests");

/** Changes whenever the migrations or the PGlite version do, and with them the template. */
async function templateKey(): Promise<string> {
  const hash = createHash("sha256");
  hash.update(await readFile(join(NODE_MODULES, "@electric-sql", "pglite", "package.json")));
  const files = (await readdir(defaultMigrationsFolder, { recursive: true })).sort();
  for (const file of files) {
    const path = join(defaultMigrationsFolder, file);
    if ((await stat(path)).isFile()) hash.update(file).update(await readFile(path));
  }
  return hash.digest("hex").slice(0, 16);
}

// initdb costs PGlite several seconds of CPU. It runs once, here, for as long as the migrations stay the same;
// every test server copies the migrated result (well under a second) instead of running it again.
/** Provides a migrated PGlite template, built on the first run and kept in node_modules/.cache. */
export default async function setup(project: TestProject): Promise<void> {
  const key = await templateKey();
  const template = join(CACHE, `pglite-${key}`);
  const ready = await stat(join(template, "pglite", "PG_VERSION")).then(
    () => true,
    () => false,
  );
  if (!ready) {
    await mkdir(CACHE, { recursive: true });
    const building = join(CACHE, `building-${randomBytes(6).toString("hex")}`);
    const database = await openDatabase({ dataDir: building });
    await database.close();
    // Older templates are of no more use; a run that built the same template meanwhile wins the rename.
    for (const entry of await readdir(CACHE)) {
      if (entry.startsWith("pglite-") && entry !== `pglite-${key}`)
        await rm(join(CACHE, entry), { recursive: true, force: true });
    }
    await rename(building, template).catch(() => rm(building, { recursive: true, force: true }));
  }
  project.provide("pgliteTemplateDir", template);
}

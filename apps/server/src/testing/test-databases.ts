import { existsSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createScratchDatabase } from "@anvil/persistence";
import { inject } from "vitest";

/** Where one test server keeps its database and images; `dispose` removes both. */
export interface TestDatabase {
  /** Images always live here; so does the embedded database when `databaseUrl` is undefined. */
  dataDir: string;
  databaseUrl: string | undefined;
  dispose(): Promise<void>;
}

/** A database the integration suites run on. */
export interface TestDriver {
  kind: "pglite" | "postgres";
  create(): Promise<TestDatabase>;
}

/** PGlite always; PostgreSQL too when TEST_DATABASE_URL is set. */
export function testDrivers(): TestDriver[] {
  const url = inject("testDatabaseUrl");
  const pglite: TestDriver = { kind: "pglite", create: createPgliteDatabase };
  return url ? [pglite, { kind: "postgres", create: () => createPostgresDatabase(url) }] : [pglite];
}

// A memory-backed folder where there is one: copying the template and PGlite's own writes are faster there.
const TEMP_ROOT = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
const tempDir = () => mkdtemp(join(TEMP_ROOT, "anvil-server-test-"));

// A private copy of the migrated template (global-setup.ts), kept on disk so that a second server can
// open the same database after the first one closed.
async function createPgliteDatabase(): Promise<TestDatabase> {
  const dataDir = await tempDir();
  await cp(inject("pgliteTemplateDir"), dataDir, { recursive: true });
  return { dataDir, databaseUrl: undefined, dispose: () => rm(dataDir, { recursive: true, force: true }) };
}

// Each test file gets a database of its own on the server, so files running in parallel never see
// each other's rows.
async function createPostgresDatabase(baseUrl: string): Promise<TestDatabase> {
  const scratch = await createScratchDatabase(baseUrl, { prefix: "anvil_test", takeOverWhenNotPermitted: false });
  const dataDir = await tempDir();
  return {
    dataDir,
    databaseUrl: scratch.url,
    dispose: async () => {
      await scratch.drop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

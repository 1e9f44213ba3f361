import { existsSync } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
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
  await copyTemplate(inject("pgliteTemplateDir"), dataDir);
  return { dataDir, databaseUrl: undefined, dispose: () => rm(dataDir, { recursive: true, force: true }) };
}

/** The template's folders (with their modes) and files, relative to it; read once per worker, as it never changes. */
let templateEntries: Promise<{ folders: { path: string; mode: number }[]; files: string[] }> | undefined;

// fs.cp checks every entry on both sides (lstat, then chmod): about 0.35 s of the worker's CPU for the template's
// thousand files, in every test that starts a server on PGlite. Copying from a listing made once costs a quarter or less.
// The folders keep their modes (PostgreSQL wants its data folder private); files get theirs from copyFile.
async function copyTemplate(template: string, destination: string): Promise<void> {
  templateEntries ??= readdir(template, { recursive: true, withFileTypes: true }).then(async (entries) => {
    const relative = (entry: { parentPath: string; name: string }) =>
      join(entry.parentPath.slice(template.length), entry.name);
    const folders = entries.filter((entry) => entry.isDirectory()).map(relative);
    return {
      folders: await Promise.all(
        folders.map(async (path) => ({ path, mode: (await stat(join(template, path))).mode & 0o777 })),
      ),
      files: entries.filter((entry) => entry.isFile()).map(relative),
    };
  });
  const { folders, files } = await templateEntries;
  for (const { path, mode } of folders) {
    await mkdir(join(destination, path), { recursive: true });
    await chmod(join(destination, path), mode);
  }
  await Promise.all(files.map((file) => copyFile(join(template, file), join(destination, file))));
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

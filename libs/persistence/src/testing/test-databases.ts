import { openAsBlob } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { inject } from "vitest";
import { defaultMigrationsFolder, openDatabase } from "../database";
import { createScratchDatabase } from "../scratch-database";
import type { AnvilDatabase } from "../database";

/** A database a test file owns: `reset` empties it between tests, `dispose` removes it. */
export interface TestDatabase {
  database: AnvilDatabase;
  reset(): Promise<void>;
  dispose(): Promise<void>;
}

/** A driver the integration suites run on. */
export interface TestDriver {
  kind: AnvilDatabase["kind"];
  open(): Promise<TestDatabase>;
}

/** PGlite always; PostgreSQL too when `postgresUrl` (TEST_DATABASE_URL) is given. */
export function testDrivers(postgresUrl: string | undefined): TestDriver[] {
  const pglite: TestDriver = { kind: "pglite", open: openPgliteTestDatabase };
  if (postgresUrl === undefined || postgresUrl === "") return [pglite];
  return [pglite, { kind: "postgres", open: () => openPostgresTestDatabase(postgresUrl) }];
}

/** Opens a PGlite (in memory, or in a new `dataDir`) that starts from the migrated template of global-setup.ts. */
export async function openPgliteFromTemplate(dataDir?: string): Promise<AnvilDatabase> {
  const loadDataDir = await openAsBlob(inject("pgliteTemplateDump"));
  return openDatabase({ ...(dataDir === undefined ? {} : { dataDir }), pglite: { loadDataDir } });
}

/**
 * An embedded database in memory as a server of an older version left it: every migration before the one whose tag
 * starts with `firstMissing` applied. `upgrade()` applies the rest, the migrations a server of this version runs when it
 * opens it.
 */
export async function openPgliteBefore(
  firstMissing: string,
): Promise<{ database: AnvilDatabase; upgrade(): Promise<void> }> {
  const dir = await temporaryDir();
  try {
    const database = await openDatabase({
      pglite: { loadDataDir: await openAsBlob(inject("pgliteBlankDump")) },
      migrationsFolder: await migrationsBefore(firstMissing, dir.path),
    });
    const db = database.db as unknown as Parameters<typeof migratePglite>[0];
    return { database, upgrade: () => migratePglite(db, { migrationsFolder: defaultMigrationsFolder }) };
  } finally {
    await dir.remove();
  }
}

/** A new, empty temporary directory and a way to remove it. */
export async function temporaryDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "anvil-persistence-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * This package's migrations as a server of an older version had them: a copy in `into` of every migration before the
 * one whose tag starts with `firstMissing` (e.g. "0011_"). Returns the copy's folder, for `migrationsFolder`.
 */
export async function migrationsBefore(firstMissing: string, into: string): Promise<string> {
  const folder = join(into, `migrations-before-${firstMissing.replace(/_$/, "")}`);
  await cp(defaultMigrationsFolder, folder, { recursive: true });
  const journalPath = join(folder, "meta", "_journal.json");
  const journal = JSON.parse(await readFile(journalPath, "utf8")) as { entries: { tag: string }[] };
  const kept = journal.entries.findIndex((entry) => entry.tag.startsWith(firstMissing));
  if (kept < 0) throw new Error(`no migration's tag starts with ${firstMissing}`);
  for (const entry of journal.entries.slice(kept)) await rm(join(folder, `${entry.tag}.sql`));
  journal.entries = journal.entries.slice(0, kept);
  await writeFile(journalPath, JSON.stringify(journal));
  return folder;
}

async function openPgliteTestDatabase(): Promise<TestDatabase> {
  return openTestDatabase(await openPgliteFromTemplate(), async () => {});
}

async function openTestDatabase(database: AnvilDatabase, drop: () => Promise<void>): Promise<TestDatabase> {
  return {
    database,
    reset: async () => {
      await database.db.execute(
        sql`truncate job_events, jobs, messages, conversations, webhook_deliveries, cluster_leader, cluster_servers, sessions, users, queue_control restart identity cascade`,
      );
    },
    dispose: async () => {
      await database.close();
      await drop();
    },
  };
}

// Each test file gets a database of its own on the server, so files running in parallel (and other projects'
// suites on the same TEST_DATABASE_URL) never see each other's rows or truncates.
async function openPostgresTestDatabase(baseUrl: string): Promise<TestDatabase> {
  const scratch = await createScratchDatabase(baseUrl, { prefix: "anvil_test", takeOverWhenNotPermitted: true });
  return openTestDatabase(await openDatabase({ url: scratch.url }), scratch.drop);
}

import { randomBytes } from "node:crypto";
import { openAsBlob } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import postgres from "postgres";
import { inject } from "vitest";
import { openDatabase } from "../database";
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

/** A new, empty temporary directory and a way to remove it. */
export async function temporaryDir(): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), "anvil-persistence-test-"));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

async function openPgliteTestDatabase(): Promise<TestDatabase> {
  return openTestDatabase(await openPgliteFromTemplate(), async () => {});
}

async function openTestDatabase(database: AnvilDatabase, drop: () => Promise<void>): Promise<TestDatabase> {
  return {
    database,
    reset: async () => {
      await database.db.execute(sql`truncate job_events, jobs, messages, conversations restart identity cascade`);
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
  const scratch = await createScratchDatabase(baseUrl);
  return openTestDatabase(await openDatabase({ url: scratch.url }), scratch.drop);
}

// Any fixed key; only these test helpers take it.
const SHARED_DATABASE_LOCK_KEY = "4167338460717099";

/**
 * A fresh, empty PostgreSQL database on the server of `baseUrl`. Where the role may not create databases,
 * `baseUrl`'s own database instead, held exclusively (advisory lock) until `drop`, which then empties it.
 */
export async function createScratchDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `anvil_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "42501") {
      await admin.end();
      throw error;
    }
    await admin.unsafe(`select pg_advisory_lock(${SHARED_DATABASE_LOCK_KEY})`);
    return {
      url: baseUrl,
      drop: async () => {
        await admin.unsafe(`drop table if exists job_events, jobs, messages, conversations cascade`);
        await admin.unsafe(`drop schema if exists drizzle cascade`);
        await admin.unsafe(`drop function if exists jsonb_deep_merge(jsonb, jsonb)`);
        await admin.end();
      },
    };
  }
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

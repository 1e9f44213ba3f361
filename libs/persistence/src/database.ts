import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import type { PGliteOptions } from "@electric-sql/pglite";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { initdbApart, PGLITE_START_PARAMS } from "./pglite-memory";
import { postgresClient } from "./postgres-client";
import { errorChain } from "./sql-guards";
import * as schema from "./schema";

type Schema = typeof schema;

/** The drizzle database both drivers share: only the query-result shape of raw `execute` differs between them. */
export type AnvilDb = PgDatabase<PgQueryResultHKT, Schema>;

/** A transaction on an {@link AnvilDb}. */
export type AnvilTx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

/** An open, migrated Anvil database on either driver. */
export interface AnvilDatabase {
  readonly kind: "pglite" | "postgres";
  readonly db: AnvilDb;
  /**
   * The same database on one connection of its own: statements sent on it run in the order sent, and one sent while
   * another still runs is pipelined behind it (sent at once, run next). PGlite has one connection: `db` itself.
   */
  readonly inOrder: AnvilDb;
  /**
   * Calls `onNotify` at every NOTIFY on `channel`, from now until the returned function is called (or the database
   * closed). A wake-up hint, never the truth: a notification sent while the listening connection is being made again
   * is missed, so whoever listens looks at the database on a timer as well.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** Closes the connections (or the embedded database); calling it again is harmless. */
  close(): Promise<void>;
}

/**
 * How often a PostgreSQL listener is made again. postgres.js listens again on a new connection when its own closes,
 * but gives up for good when that first attempt fails (the database still away); listening again on a timer brings
 * it back within this long, and costs nothing while it still listens (the channel is the driver's, shared).
 */
const LISTEN_AGAIN_MS = 30_000;

/** Where the database lives; `url` wins over `dataDir`. */
export interface OpenDatabaseOptions {
  /** `postgres://…`: use that PostgreSQL server. */
  url?: string;
  /** Embedded PGlite kept in `${dataDir}/pglite`; neither `url` nor `dataDir` → in-memory PGlite. */
  dataDir?: string;
  /** The drizzle-kit output folder; defaults to this package's own `drizzle/` (pass it explicitly when bundled). */
  migrationsFolder?: string;
  /** PostgreSQL connection pool size (default 10). */
  poolSize?: number;
  /**
   * Aborted: a new embedded database still being made (initdb, which cannot be closed part way) is given up at once,
   * its child process killed, and the open fails with the abort's reason. Anything else opens as usual.
   */
  signal?: AbortSignal;
  /** Extra PGlite settings, e.g. `loadDataDir` to start from a `dumpDataDir()` tarball instead of running initdb. */
  pglite?: Omit<PGliteOptions, "dataDir">;
}

/** This package's migrations, next to `src/`. */
export const defaultMigrationsFolder = fileURLToPath(new URL("../drizzle", import.meta.url));

// Any fixed bigint works; it only has to differ from the event-order lock (event-order.ts).
const MIGRATION_LOCK_KEY = "4167338460717001";

/** Opens the database named by `options` and brings its schema up to date before returning it. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<AnvilDatabase> {
  const migrationsFolder = options.migrationsFolder ?? defaultMigrationsFolder;
  return options.url === undefined
    ? openPglite(options.dataDir, migrationsFolder, options.pglite ?? {}, options.signal)
    : openPostgres(options.url, migrationsFolder, options.poolSize ?? 10);
}

async function openPglite(
  dataDir: string | undefined,
  migrationsFolder: string,
  pgliteOptions: Omit<PGliteOptions, "dataDir">,
  signal: AbortSignal | undefined,
): Promise<AnvilDatabase> {
  let path: string | undefined;
  if (dataDir !== undefined) {
    path = join(dataDir, "pglite");
    await mkdir(path, { recursive: true });
  }
  // A database of its own on disk starts from an initdb run apart (see pglite-memory.ts); in memory (tests) or from
  // a given tarball, PGlite makes it here.
  if (path !== undefined && !pgliteOptions.loadDataDir) await initdbApart(path, signal);
  const client = await PGlite.create({
    startParams: [...PGLITE_START_PARAMS],
    ...pgliteOptions,
    ...(path === undefined ? {} : { dataDir: path }),
  });
  const db = drizzlePglite({ client, schema });
  try {
    await migratePglite(db, { migrationsFolder });
  } catch (error) {
    await client.close();
    throw error;
  }
  let closed: Promise<void> | undefined;
  return {
    kind: "pglite",
    db,
    inOrder: db,
    listen: (channel, onNotify) => client.listen(channel, () => onNotify()),
    close: () => (closed ??= client.close()),
  };
}

async function openPostgres(url: string, migrationsFolder: string, poolSize: number): Promise<AnvilDatabase> {
  await migratePostgresExclusively(url, migrationsFolder);
  const client = postgresClient(url, poolSize);
  const db = drizzlePostgres({ client, schema });
  const inOrderClient = postgresClient(url, 1);
  const inOrder = drizzlePostgres({ client: inOrderClient, schema });
  let closed: Promise<void> | undefined;
  /** What stops each listener (see `listen`), so that a close leaves no timer behind. */
  const listening = new Set<() => Promise<void>>();
  // Closed last, once the service stopped and its journal was flushed: what may still be in flight is a background
  // read or a connection being made again. postgres.js waits `timeout` seconds for it; 5 made every stop while the
  // database was down or refusing 5 s longer, for queries that could not finish.
  const close = async () => {
    for (const stop of listening) void stop();
    await Promise.all([client.end({ timeout: 1 }), inOrderClient.end({ timeout: 1 })]);
  };
  const listen = async (channel: string, onNotify: () => void): Promise<() => Promise<void>> => {
    const fn = () => onNotify();
    let current = await client.listen(channel, fn);
    let stopped = false;
    const again = setInterval(() => {
      // The new listener first, then the old one away: the channel is never left without one.
      void client.listen(channel, fn).then(
        async (next) => {
          const previous = current;
          current = next;
          await (stopped ? next : previous).unlisten().catch(() => undefined);
        },
        () => undefined,
      );
    }, LISTEN_AGAIN_MS);
    again.unref();
    const stop = async () => {
      stopped = true;
      clearInterval(again);
      listening.delete(stop);
      await current.unlisten().catch(() => undefined);
    };
    listening.add(stop);
    return stop;
  };
  return { kind: "postgres", db, inOrder, listen, close: () => (closed ??= close()) };
}

// drizzle's migrator reads the last applied migration and then applies the rest, so two processes starting
// together would both apply the same migration and one would fail. A session advisory lock, held on the one
// connection the migrator uses, makes the second process wait and then find nothing left to do; the server
// drops the lock by itself if this process dies mid-way.
async function migratePostgresExclusively(url: string, migrationsFolder: string): Promise<void> {
  const client = postgresClient(url, 1);
  try {
    await client.unsafe(`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`);
    await migrateRetryingDeadlocks(() => migratePostgres(drizzlePostgres({ client }), { migrationsFolder }));
    await client.unsafe(`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`);
  } finally {
    await client.end({ timeout: 5 });
  }
}

const MIGRATION_ATTEMPTS = 30;

// In a rolling upgrade the servers of the previous version go on writing while this one migrates. The pending
// migrations run in one transaction that locks tables one statement at a time (0011 a trigger on jobs, then 0012
// an ALTER TABLE of jobs' reference), so a submission that already read jobs and then writes it deadlocks with
// it, and PostgreSQL aborts the migration: the server failed to start. The aborted transaction kept nothing, so
// it is run again, soon, which a burst of writes does not outlast.
async function migrateRetryingDeadlocks(migrate: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await migrate();
    } catch (error) {
      if (attempt >= MIGRATION_ATTEMPTS || !isDeadlock(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 250));
    }
  }
}

// drizzle wraps the driver's error ("Failed query: …") and keeps it as the cause.
const isDeadlock = (error: unknown): boolean => [...errorChain(error)].some((cause) => cause.code === "40P01");

/** A row of a raw `db.execute` query, as the driver decodes it. */
export type RawRow = Record<string, unknown>;

/** The rows of a raw `db.execute` query: postgres.js returns them as an array, PGlite as `{ rows }`. */
export const rowsOf = (result: unknown): RawRow[] =>
  Array.isArray(result) ? (result as RawRow[]) : ((result as { rows?: RawRow[] }).rows ?? []);

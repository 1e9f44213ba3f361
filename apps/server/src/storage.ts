import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { FileImageStore, JobStore, openDatabase, PgImageStore, UserStore } from "@anvil/persistence";
import type { AnvilDatabase, ImageStore } from "@anvil/persistence";
import type { Logger } from "pino";
import { acquireDataDirLock } from "./data-dir-lock";
import { DatabaseUnusable, shownDatabaseUrl } from "./database-failure";

/** Where a server keeps its jobs, users and images. */
export interface StorageConfig {
  /** `postgres://…`: that PostgreSQL server, shared with the other servers of a cluster. */
  databaseUrl?: string | undefined;
  /** The embedded database (without `databaseUrl`) and the images (on the embedded database) live here. */
  dataDir: string;
  /** The embedded database in memory instead of in `dataDir` (tests). */
  inMemoryDatabase?: boolean | undefined;
  /**
   * Aborted when the server is asked to stop during its start: a new embedded database being made is given up, and a
   * database that opened meanwhile is closed again at once (the open fails with the abort's reason).
   */
  startUpStopped?: AbortSignal | undefined;
  /** The drizzle-kit migrations, beside the build. */
  migrationsFolder: string;
}

/** A server's database, its stores over it, and its images. */
export interface Storage {
  database: AnvilDatabase;
  store: JobStore;
  users: UserStore;
  /**
   * The images kept in PostgreSQL (with `databaseUrl`), so that every server of a cluster serves every image whichever
   * made it; null on the embedded database, whose images are files in `DATA_DIR/images`.
   */
  sharedImages: PgImageStore | null;
  images: ImageStore;
  /** Closes the database, then gives `DATA_DIR` back to the next process (its lock released). */
  close(): Promise<void>;
}

/**
 * Opens the database and brings its schema up to date. The embedded database belongs to one process: its lock is taken
 * before PGlite touches its files (a second server on the same `DATA_DIR` stops here), and given back only after they
 * are closed.
 */
export async function openStorage(config: StorageConfig, logger: Logger): Promise<Storage> {
  const lock = config.databaseUrl || config.inMemoryDatabase ? null : await acquireDataDirLock(config.dataDir);
  if (config.databaseUrl) {
    // A host that drops packets keeps the driver waiting up to its 30 s connect timeout: the log says on what.
    const database = shownDatabaseUrl(config.databaseUrl);
    logger.info({ database }, `connecting to PostgreSQL at ${database}`);
  }
  if (lock) {
    // Creating one takes PGlite tens of seconds on a small machine: without a word the first `npm start` looks hung.
    const folder = resolve(config.dataDir, "pglite");
    logger.info(
      { folder },
      existsSync(join(folder, "PG_VERSION"))
        ? `opening the embedded database in ${folder}`
        : `creating the embedded database in ${folder}: this first start takes longer (up to a minute)`,
    );
  }
  const database = await openDatabase({
    ...(config.databaseUrl ? { url: config.databaseUrl } : config.inMemoryDatabase ? {} : { dataDir: config.dataDir }),
    migrationsFolder: config.migrationsFolder,
    ...(config.startUpStopped ? { signal: config.startUpStopped } : {}),
  }).catch(async (error: unknown) => {
    await lock?.release();
    throw config.databaseUrl ? new DatabaseUnusable(config.databaseUrl, error) : error;
  });
  const close = () => database.close().finally(() => lock?.release());
  if (config.startUpStopped?.aborted) {
    // Nothing more is started only to be stopped again: on a busy machine the rest of a start (the GPUs probed, the
    // queue rebuilt, the port opened) and its stop outlasted the time a stop during start-up waits.
    await close();
    throw config.startUpStopped.reason;
  }
  const sharedImages = config.databaseUrl ? new PgImageStore(database) : null;
  return {
    database,
    store: new JobStore(database),
    users: new UserStore(database),
    sharedImages,
    images: sharedImages ?? new FileImageStore(join(config.dataDir, "images")),
    close,
  };
}

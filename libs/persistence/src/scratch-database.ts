import { randomBytes } from "node:crypto";
import postgres from "postgres";

// Any fixed key; only scratch databases take it.
const SHARED_DATABASE_LOCK_KEY = "4167338460717099";

export interface ScratchDatabaseOptions {
  /** The new database's name is this, an underscore and random hex. */
  prefix: string;
  /**
   * Where the role may not create databases: use `baseUrl`'s own database, held exclusively (advisory lock)
   * until `drop`, which then drops Anvil's tables in it. Only for a database that is there to be thrown away
   * (TEST_DATABASE_URL), never for one that may hold data.
   */
  takeOverWhenNotPermitted: boolean;
}

/** A fresh, empty PostgreSQL database on the server of `baseUrl`, for tests and benchmarks; `drop` removes it. */
export async function createScratchDatabase(
  baseUrl: string,
  { prefix, takeOverWhenNotPermitted }: ScratchDatabaseOptions,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    if ((error as { code?: unknown }).code !== "42501" || !takeOverWhenNotPermitted) {
      await admin.end();
      throw error;
    }
    await admin.unsafe(`select pg_advisory_lock(${SHARED_DATABASE_LOCK_KEY})`);
    return {
      url: baseUrl,
      drop: async () => {
        await admin.unsafe(`drop table if exists job_events, jobs, messages, conversations, queue_counts cascade`);
        await admin.unsafe(`drop schema if exists drizzle cascade`);
        await admin.unsafe(`drop function if exists anvil_submit_jobs(jsonb)`);
        await admin.unsafe(`drop function if exists anvil_apply_changes(jsonb, jsonb, text, bigint)`);
        await admin.unsafe(`drop function if exists anvil_store_image(uuid, bytea, integer, text, bigint)`);
        await admin.unsafe(`drop function if exists anvil_count_queued()`);
        await admin.unsafe(`drop function if exists anvil_iso(timestamptz)`);
        await admin.unsafe(`drop function if exists jsonb_shallow_merge(jsonb, jsonb)`);
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

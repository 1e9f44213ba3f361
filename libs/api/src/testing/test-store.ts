import { openAsBlob } from "node:fs";
import { JobStore, openDatabase } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { afterAll, beforeAll, inject } from "vitest";

/** Opens a real, migrated, in-memory PGlite from the run's template (global-setup.ts). */
export async function openTestDatabase(): Promise<AnvilDatabase> {
  const loadDataDir = await openAsBlob(inject("pgliteTemplateDump"));
  return openDatabase({ pglite: { loadDataDir } });
}

/** A real JobStore on a PGlite of the enclosing describe's own; `store()` is its accessor. */
export function useTestStore(): { database: () => AnvilDatabase; store: () => JobStore } {
  let database: AnvilDatabase | undefined;
  let store: JobStore | undefined;
  beforeAll(async () => {
    database = await openTestDatabase();
    store = new JobStore(database);
  });
  afterAll(async () => {
    await database?.close();
  });
  const opened = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the test database is not open yet");
    return value;
  };
  return { database: () => opened(database), store: () => opened(store) };
}

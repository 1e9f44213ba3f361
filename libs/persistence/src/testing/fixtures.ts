import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { JobParams } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, beforeEach } from "vitest";
import type { AnvilDatabase } from "../database";
import { rowsOf } from "../database";
import { JobStore } from "../job-store";
import { toJob } from "../records";
import type { JobRecord } from "../records";
import type { TestDatabase, TestDriver } from "./test-databases";

/** Whether `database` runs an autovacuum of its own: PGlite has none, and a PostgreSQL server may have it off. */
export const runsAutovacuum = async (database: AnvilDatabase): Promise<boolean> =>
  database.kind === "postgres" &&
  rowsOf(await database.db.execute(sql`select current_setting('autovacuum') as on`))[0]?.["on"] === "on";

/** Generation parameters with every default filled in. */
export const params: JobParams = { ...DEFAULT_JOB_PARAMS };

/** The snapshot a caller outside the queue logs: position 0. */
export const snapshot = (job: JobRecord) => toJob(job, 0);

/** What a job that completed with its image leaves in its assistant message's metadata. */
export const completedMetadata = (job: Pick<JobRecord, "id" | "prompt">) => ({
  jobId: job.id,
  prompt: job.prompt,
  status: "complete",
  queuePosition: 0,
  progress: 100,
  imageUrl: `/images/${job.id}.png`,
  error: null,
});

/** Opens `driver`'s database for the enclosing describe, empties it before each test; returns accessors. */
export function useTestDatabase(driver: TestDriver): { store: () => JobStore; test: () => TestDatabase } {
  let test: TestDatabase | undefined;
  let store: JobStore | undefined;
  beforeAll(async () => {
    test = await driver.open();
    store = new JobStore(test.database);
  });
  beforeEach(async () => {
    await test?.reset();
  });
  afterAll(async () => {
    await test?.dispose();
  });
  return {
    store: () => {
      if (store === undefined) throw new Error("database not open yet");
      return store;
    },
    test: () => {
      if (test === undefined) throw new Error("database not open yet");
      return test;
    },
  };
}

/** `value`, failing the test when it is null or undefined. */
export function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error("expected a value");
  return value;
}

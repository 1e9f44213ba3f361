import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { JobStore } from "./job-store";
import { databaseErrorText } from "./sql-guards";
import { params, snapshot, useTestDatabase } from "./testing/fixtures";
import { openPgliteFromTemplate, testDrivers } from "./testing/test-databases";
import { isTransientDatabaseError } from "./write-errors";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("isTransientDatabaseError on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);

  const failWith = async (error: string): Promise<unknown> => {
    const { job } = await store().submitJob({ prompt: "a refused write", params });
    return store()
      .transaction((tx) =>
        tx.applyTransition({ jobId: job.id, from: "queued", to: "error", patch: { error }, snapshot }),
      )
      .then(
        () => expect.unreachable("the database stored it"),
        (refused: unknown) => refused,
      );
  };

  it("calls a NUL byte in a text value a wrong write, not an unreachable database", async () => {
    expect(isTransientDatabaseError(await failWith("the backend said \u0000"))).toBe(false);
  });

  it("says what the database said, not the statement and its values, in the words for a log line", async () => {
    const refused = await failWith("a secret prompt \u0000");
    const text = databaseErrorText(refused);
    expect(String(refused)).toContain("Failed query");
    expect(text).not.toContain("Failed query");
    expect(text).not.toContain("a secret prompt");
    expect(text).toMatch(/0x00|\\u0000|null character|22P05|22021/i);
  });

  it("calls a write refused by a read-only database one to retry (a failover onto a standby)", async () => {
    const { job } = await store().submitJob({ prompt: "read-only", params });
    const refused = await test()
      .database.db.transaction(async (tx) => {
        await tx.execute(sql`set transaction read only`);
        await new JobStore({ db: tx }, true).applyTransition({
          jobId: job.id,
          from: "queued",
          to: "cancelled",
          snapshot,
        });
      })
      .then(
        () => expect.unreachable("the database stored it"),
        (error: unknown) => error,
      );
    expect(databaseErrorText(refused)).toMatch(/read-only transaction/);
    expect(isTransientDatabaseError(refused)).toBe(true);
  });

  it("calls an unpaired surrogate in a JSON value a wrong write", async () => {
    const { job } = await store().submitJob({ prompt: "half an emoji", params });
    const refused = await store()
      .mergeMessageMetadata(job.messageId, { error: "half an emoji \ud83d" })
      .then(
        () => expect.unreachable("the database stored it"),
        (error: unknown) => error,
      );
    expect(isTransientDatabaseError(refused)).toBe(false);
  });
});

describe("isTransientDatabaseError", () => {
  it("calls a write to a closed embedded database one to retry", async () => {
    const database = await openPgliteFromTemplate();
    await database.close();
    const refused = await new JobStore(database).submitJob({ prompt: "too late", params }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect(isTransientDatabaseError(refused)).toBe(true);
  });

  it("calls a refused connection, and postgres.js's connection errors, ones to retry", () => {
    expect(isTransientDatabaseError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      true,
    );
    const closed = Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" });
    expect(isTransientDatabaseError(new Error("Failed query", { cause: closed }))).toBe(true);
    expect(isTransientDatabaseError(Object.assign(new Error("deadlock detected"), { code: "40P01" }))).toBe(true);
    expect(isTransientDatabaseError(Object.assign(new Error("duplicate key"), { code: "23505" }))).toBe(false);
  });
});

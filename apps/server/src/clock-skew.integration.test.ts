import { openDatabase } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import type { LogHook } from "@anvil/api";
import { afterEach, describe, expect, it } from "vitest";
import { warnOfClockSkew } from "./clock-skew";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";

describe.each(testDrivers())("a server clock that is not the database's, on $kind", (driver) => {
  let test: TestDatabase | null = null;
  let database: AnvilDatabase | null = null;
  afterEach(async () => {
    await database?.close();
    await test?.dispose();
  });

  it("is said, ahead or behind and by how much, and a clock in step is not", async () => {
    test = await driver.create();
    database = await openDatabase(test.databaseUrl ? { url: test.databaseUrl } : { dataDir: test.dataDir });
    const said: { message: string; fields: Record<string, unknown>; level: string | undefined }[] = [];
    const log: LogHook = (message, fields, level) => void said.push({ message, fields, level });
    await warnOfClockSkew(database, log);
    expect(said).toEqual([]);
    await warnOfClockSkew(database, log, () => Date.now() + 300_000);
    await warnOfClockSkew(database, log, () => Date.now() - 300_000);
    expect(said.map((line) => line.level)).toEqual(["warn", "warn"]);
    // Measured to within half a round trip, which a loaded machine can make a tenth of a second or more.
    const seconds = (message = "", way: string) =>
      Number(new RegExp(`^this server's clock is (\\d+\\.\\d) s ${way} PostgreSQL's`).exec(message)?.[1]);
    expect(said[0]?.message).toMatch(
      / s ahead of PostgreSQL's: a job's times will disagree \(createdAt is the database's/,
    );
    expect(Math.abs(seconds(said[0]?.message, "ahead of") - 300)).toBeLessThan(5);
    expect(Math.abs(seconds(said[1]?.message, "behind") - 300)).toBeLessThan(5);
    expect(Math.abs(Number(said[0]?.fields["skewMs"]) - 300_000)).toBeLessThan(5_000);
  });
});

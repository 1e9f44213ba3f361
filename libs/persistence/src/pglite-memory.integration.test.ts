import { existsSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./database";
import { temporaryDir } from "./testing/test-databases";

describe("the embedded database's memory settings", () => {
  it("makes a new data dir apart (initdb in a child process) and opens it with small shared buffers", async () => {
    const dir = await temporaryDir();
    try {
      const database = await openDatabase({ dataDir: dir.path });
      try {
        expect(existsSync(join(dir.path, "pglite", "PG_VERSION"))).toBe(true);
        const result = (await database.db.execute(sql`show shared_buffers`)) as unknown as {
          rows: { shared_buffers: string }[];
        };
        expect(result.rows[0]?.shared_buffers).toBe("16MB");
      } finally {
        await database.close();
      }
    } finally {
      await dir.remove();
    }
  }, 120_000);
});

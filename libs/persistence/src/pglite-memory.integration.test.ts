import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { openDatabase } from "./database";
import { temporaryDir } from "./testing/test-databases";

describe("the embedded database's memory settings", () => {
  it("makes a new data dir apart (initdb in a child process) and opens it with small shared buffers", async () => {
    const dir = await temporaryDir();
    try {
      // What a first start cut short left: a half-made database folder, and a scratch folder of its own.
      await mkdir(join(dir.path, "pglite", "base"), { recursive: true });
      await mkdir(join(dir.path, ".pglite-initdb-dead"));
      await writeFile(join(dir.path, ".pglite-initdb-dead", "PG_VERSION"), "18");
      const opening = openDatabase({ dataDir: dir.path });
      // While initdb writes, the database folder holds nothing new: a start cut short now leaves nothing half made there.
      // Once, the child wrote into it directly, and went on writing after its parent was killed.
      const scratch = async () =>
        (await readdir(dir.path)).filter(
          (entry) => entry.startsWith(".pglite-initdb-") && entry !== ".pglite-initdb-dead",
        );
      let settled = false;
      void opening.then(
        () => (settled = true),
        () => (settled = true),
      );
      for (;;) {
        if (settled) throw new Error("the database was made without a scratch folder beside its own");
        const [writing] = await scratch();
        if (writing && (await readdir(join(dir.path, writing))).length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(await readdir(join(dir.path, "pglite"))).toEqual(["base"]);
      expect(await readdir(join(dir.path, "pglite", "base"))).toEqual([]);
      const database = await opening;
      try {
        expect(existsSync(join(dir.path, "pglite", "PG_VERSION"))).toBe(true);
        // The scratch folders are gone; what held no database is kept beside, not deleted.
        const entries = await readdir(dir.path);
        expect(entries.filter((entry) => entry.startsWith(".pglite-initdb-"))).toEqual([]);
        const kept = entries.filter((entry) => entry.startsWith("pglite.incomplete-"));
        expect(kept).toHaveLength(1);
        expect(await readdir(join(dir.path, kept[0]!))).toEqual(["base"]);
        expect(entries).toHaveLength(2);
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

  it("gives up a new database being made when its signal aborts: the initdb child is killed and nothing is left", async () => {
    const dir = await temporaryDir();
    try {
      const stop = new AbortController();
      const opening = openDatabase({ dataDir: dir.path, signal: stop.signal });
      // The child is at work once its scratch folder holds something.
      let scratch = "";
      await expect
        .poll(
          async () => {
            [scratch = ""] = (await readdir(dir.path)).filter((entry) => entry.startsWith(".pglite-initdb-"));
            return scratch !== "" && (await readdir(join(dir.path, scratch))).length > 0;
          },
          { timeout: 60_000 },
        )
        .toBe(true);
      const initdb = await processesNaming(join(dir.path, scratch));
      expect(initdb).toHaveLength(1);

      stop.abort(new Error("stopped for the test"));
      await expect(opening).rejects.toThrow("stopped for the test");
      expect(await processesNaming(join(dir.path, scratch))).toEqual([]);
      expect(existsSync(join(dir.path, "pglite", "PG_VERSION"))).toBe(false);
      expect((await readdir(dir.path)).filter((entry) => entry.startsWith(".pglite-initdb-"))).toEqual([]);
    } finally {
      await dir.remove();
    }
  }, 120_000);
});

/** The live processes whose command line names `path` (a zombie's is empty). */
async function processesNaming(path: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (commandLine.includes(path)) pids.push(Number(entry));
  }
  return pids;
}

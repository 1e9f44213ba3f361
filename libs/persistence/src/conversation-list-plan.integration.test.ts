import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { conversationListQuery } from "./conversations";
import { rowsOf } from "./database";
import { useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

const CONVERSATIONS = 20_000;

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("a page of conversations on $kind", (driver) => {
  const { test } = useTestDatabase(driver);

  /** The plan of the list's query, its parameters written in (EXPLAIN takes no parameters on every driver). */
  const planOf = async (query: { toSQL(): { sql: string; params: unknown[] } }): Promise<string> => {
    const { sql: text, params } = query.toSQL();
    const literal = (value: unknown) => (typeof value === "number" ? String(value) : `'${String(value)}'`);
    const inlined = text.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1]));
    const rows = rowsOf(await test().database.db.execute(sql.raw(`explain ${inlined}`)));
    return rows.map((row) => String(Object.values(row)[0])).join("\n");
  };

  // An admin's list (every owner's: the one user of a server without sign-in) must not sort every conversation for
  // each page: 3 ms at 1,000 conversations had become 25 ms at 50,000 on PGlite.
  it("reads an admin's page, the first or one further on, newest first from an index instead of sorting the table", async () => {
    const { db } = test().database;
    await db.execute(sql`
      insert into conversations (title, owner, created_at)
      select 'c' || i, case when i % 2 = 0 then 'local' else 'someone' end, now() - i * interval '1 second'
      from generate_series(1, ${CONVERSATIONS}) as i`);
    await db.execute(sql`analyze conversations`);
    const [middle] = rowsOf(
      await db.execute(
        sql`select id from conversations order by created_at desc, id desc offset ${CONVERSATIONS / 2} limit 1`,
      ),
    );
    const before = String(middle?.["id"]);

    for (const page of [{ limit: 50 }, { limit: 50, before }]) {
      for (const owner of [undefined, "local"]) {
        const plan = await planOf(conversationListQuery(db, owner, page));
        expect(plan, `owner ${owner ?? "(all)"}, ${page.before ? "a page further on" : "the first page"}`).not.toMatch(
          /Seq Scan on conversations\b|(^|[^l] )Sort {2}\(/m,
        );
      }
    }
  });
});

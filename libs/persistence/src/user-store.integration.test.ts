import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { params, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { rowsOf } from "./database";
import { UserStore } from "./user-store";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("UserStore on $kind", (driver) => {
  const { store, test } = useTestDatabase(driver);
  const users = () => new UserStore(test().database);

  it("finds a user by token hash until removed; their jobs stay", async () => {
    expect(await users().create("ann", false, "hash-ann")).toMatchObject({ name: "ann", admin: false });
    expect(await users().create("ann", true, "other")).toBeNull();
    expect(await users().byTokenHash("hash-ann")).toMatchObject({ name: "ann" });
    const { job } = await store().submitJob({ prompt: "ann's", params, owner: "ann" });
    expect(await users().remove("ann")).toBe(true);
    expect(await users().byTokenHash("hash-ann")).toBeNull();
    expect(await users().remove("ann")).toBe(false);
    expect(await store().getJob(job.id)).toMatchObject({ owner: "ann" });
  });

  it("answers a session until it expires, ends, or its user is removed", async () => {
    await users().ensure("bob");
    const now = new Date();
    await users().createSession("s1", "bob", new Date(now.getTime() + 60_000));
    await users().createSession("s2", "bob", new Date(now.getTime() + 60_000));
    await users().createSession("old", "bob", new Date(now.getTime() - 1));
    expect(await users().sessionUser("s1")).toMatchObject({ name: "bob", admin: false });
    expect(await users().sessionUser("old")).toBeNull();
    expect(await users().pruneSessions()).toBe(1);
    expect(await users().endSession("s1")).toBe(true);
    expect(await users().sessionUser("s1")).toBeNull();
    await users().remove("bob");
    expect(await users().sessionUser("s2")).toBeNull();
  });

  it("tells which of many sessions are still signed in: not ended, not expired, their user not removed", async () => {
    await users().ensure("cy");
    await users().ensure("dee");
    const now = new Date();
    const later = new Date(now.getTime() + 60_000);
    for (const session of ["live", "ended", "of-dee"])
      await users().createSession(session, session === "of-dee" ? "dee" : "cy", later);
    await users().createSession("expired", "cy", new Date(now.getTime() - 1));
    await users().endSession("ended");
    await users().remove("dee");
    const asked = ["live", "ended", "expired", "of-dee", "never-made"];
    expect(await users().liveSessions(asked, now)).toEqual(new Set(["live"]));
    expect(await users().liveSessions([])).toEqual(new Set());
  });

  it("tells which of many token hashes still name a user: a removed user's no longer does", async () => {
    await users().create("eve", false, "hash:eve");
    await users().create("fay", false, "hash:fay");
    await users().ensure("gil");
    await users().remove("fay");
    expect(await users().liveTokens(["hash:eve", "hash:fay", "hash:never"])).toEqual(new Set(["hash:eve"]));
    expect(await users().liveTokens([])).toEqual(new Set());
  });

  it("makes a proxy-named user once, keeping an admin flag given earlier", async () => {
    await users().create("carol", true, null);
    expect(await users().ensure("carol")).toMatchObject({ name: "carol", admin: true });
    expect(await users().ensure("dave")).toMatchObject({ name: "dave", admin: false });
    expect((await users().list()).map((user) => user.name)).toEqual(["carol", "dave"]);
  });

  it("gives a proxy-named user a token without taking away the admin rights it has", async () => {
    await users().ensure("pat@example.com");
    await users().setAdmin("pat@example.com", true);
    // An admin makes pat a token for the CLI, leaving the form's "admin" unticked: pat stays an admin.
    expect(await users().create("pat@example.com", false, "hash:pat")).toMatchObject({ admin: true });
    expect(await users().byTokenHash("hash:pat")).toMatchObject({ name: "pat@example.com", admin: true });
    // A proxy-named user who is no admin becomes one when asked.
    await users().ensure("quinn");
    expect(await users().create("quinn", true, "hash:quinn")).toMatchObject({ admin: true });
  });

  it("tells which of many users are admins now", async () => {
    await users().create("rex", true, "hash:rex");
    await users().ensure("sal");
    await users().ensure("tia");
    await users().setAdmin("tia", true);
    expect(await users().admins(["rex", "sal", "tia", "never-made"])).toEqual(new Set(["rex", "tia"]));
    expect(await users().admins([])).toEqual(new Set());
  });

  it("binds the built-in admin to a token hash at once from many callers, ending only the sessions of the old one", async () => {
    await users().bindAdmin("admin", "scrypt:old");
    const later = new Date(Date.now() + 60_000);
    await users().createSession("of-the-old-token", "admin", later);
    // Sign-ins with the new token on several servers at once: each binds, then starts its session.
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        await users().bindAdmin("admin", "scrypt:new");
        await users().createSession(`new-${i}`, "admin", later);
      }),
    );
    expect(await users().sessionUser("of-the-old-token")).toBeNull();
    for (let i = 0; i < 6; i++) expect(await users().sessionUser(`new-${i}`)).toMatchObject({ admin: true });
    expect(await users().byTokenHash("scrypt:new")).toMatchObject({ name: "admin", admin: true });
  });

  it("binds an admin that has no row yet from many callers at once, as the first sign-ins on a cluster do", async () => {
    // Each round a new installation's first sign-ins: nobody has made the row, every caller inserts it at once.
    for (let round = 0; round < 60; round++) {
      const name = `first-admin-${round}`;
      await Promise.all(Array.from({ length: 8 }, () => users().bindAdmin(name, `scrypt:first-${round}`)));
      expect(await users().byTokenHash(`scrypt:first-${round}`)).toMatchObject({ name, admin: true });
    }
  });

  it("counts failed sign-ins per address within the window, for every server alike, and forgets older ones", async () => {
    const { db } = test().database;
    // A guess from two minutes ago, as another server would have recorded it.
    await db.execute(sql`insert into failed_sign_ins (address, at) values ('10.0.0.1', now() - interval '2 minutes')`);
    const first = await users().recordFailedSignIn("10.0.0.1", 60_000);
    expect(first).toEqual([0]);
    await users().recordFailedSignIn("10.0.0.2", 60_000);
    const third = await users().recordFailedSignIn("10.0.0.1", 60_000);
    expect(third).toHaveLength(2);
    // The oldest first; each within the window.
    expect(third[0]!).toBeGreaterThanOrEqual(third[1]!);
    for (const age of third) {
      expect(age).toBeGreaterThanOrEqual(0);
      expect(age).toBeLessThan(60_000);
    }
    const left = rowsOf(await db.execute(sql`select address from failed_sign_ins order by id`));
    expect(left.map((row) => row["address"])).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.1"]);
  });
});

import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { rowsOf } from "./database";
import { ClusterServers } from "./cluster-servers";
import { LeaderLease } from "./leader-lease";
import { useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("ClusterServers on $kind", (driver) => {
  const { test } = useTestDatabase(driver);
  // Leases far longer than any test: a row goes stale only when a test moves its last sighting back.
  const LEASE_MS = 60_000;
  const server = (holder: string, version = "1.0.0") =>
    new ClusterServers(test().database.db, holder, `http://${holder}:3000`, version, LEASE_MS);
  const lease = (holder: string) => new LeaderLease(test().database.db, holder, `http://${holder}:3000`, LEASE_MS);
  /** Makes `holder`'s row read as last seen `ms` ago, as a server killed that long ago leaves it. */
  const lastSeenAgo = (holder: string, ms: number) =>
    test().database.db.execute(
      sql`update cluster_servers set last_seen_at = clock_timestamp() - ${ms} * interval '1 millisecond'
          where holder = ${holder}`,
    );
  const holders = async () => (await server("reader").live()).map((s) => s.holder);

  it("lists every server seen, the leader marked and first, with its url, version and the database's times", async () => {
    const a = server("a", "1.0.0");
    const b = server("b", "1.1.0");
    await a.seen();
    await b.seen();
    await lease("b").acquire();
    const [first, second] = await a.live();
    const running = { stopping: false, answering: true };
    expect(first).toMatchObject({ holder: "b", url: "http://b:3000", version: "1.1.0", leader: true, ...running });
    expect(second).toMatchObject({ holder: "a", url: "http://a:3000", version: "1.0.0", leader: false, ...running });
    const [now] = rowsOf(await test().database.db.execute(sql`select clock_timestamp() as now`));
    expect(second!.lastSeenAt.getTime()).toBeLessThanOrEqual(new Date(String(now!["now"])).getTime());
    expect(a.isOwn(second!)).toBe(true);
    expect(a.isOwn(first!)).toBe(false);
  });

  it("keeps when a server started across sightings, and moves its last sighting on", async () => {
    const a = server("a");
    await a.seen();
    const [before] = await a.live();
    await lastSeenAgo("a", 1_000);
    await a.seen();
    const [after] = await a.live();
    expect(after!.startedAt).toEqual(before!.startedAt);
    expect(after!.lastSeenAt.getTime()).toBeGreaterThan(before!.lastSeenAt.getTime() - 1_000);
    // A row pruned while the server was cut off comes back with the start it had.
    await test().database.db.execute(sql`delete from cluster_servers`);
    await a.seen();
    expect((await a.live())[0]!.startedAt).toEqual(before!.startedAt);
  });

  it("counts a server unseen for three of its LEASE_MS as gone, and deletes its row after the prune delay", async () => {
    await server("a").seen();
    await server("b").seen();
    await lastSeenAgo("b", 3 * LEASE_MS - 5_000);
    expect(await holders()).toEqual(["a", "b"]);
    await lastSeenAgo("b", 3 * LEASE_MS + 1);
    expect(await holders()).toEqual(["a"]);
    const count = async () =>
      rowsOf(await test().database.db.execute(sql`select count(*)::int as n from cluster_servers`))[0]!["n"];
    // Gone but kept until the prune delay is over, then deleted by whichever server is seen next.
    await server("a").seen();
    expect(await count()).toBe(2);
    await lastSeenAgo("b", 60 * 60 * 1000 + 1);
    await server("a").seen();
    expect(await count()).toBe(1);
  });

  it("prunes at most once a LEASE_MS per server, and never a row still listed", async () => {
    let now = 0;
    const a = new ClusterServers(
      test().database.db,
      "a",
      "http://a:3000",
      "1.0.0",
      LEASE_MS,
      60 * 60 * 1000,
      () => now,
    );
    const count = async () =>
      rowsOf(await test().database.db.execute(sql`select count(*)::int as n from cluster_servers`))[0]!["n"];
    await a.seen();
    await server("b").seen();
    await lastSeenAgo("b", 60 * 60 * 1000 + 1);
    // Pruned at a's first sighting: the next ones within a LEASE_MS leave b's row alone.
    now = LEASE_MS - 1;
    await a.seen();
    expect(await count()).toBe(2);
    now = LEASE_MS;
    await a.seen();
    expect(await count()).toBe(1);
    // A server with a prune delay shorter than three LEASE_MS still lists a row until then, and deletes it after.
    const eager = new ClusterServers(test().database.db, "eager", "http://eager:3000", "1.0.0", LEASE_MS, 1_000);
    await server("c").seen();
    await lastSeenAgo("c", 3 * LEASE_MS - 5_000);
    await eager.seen();
    expect(await holders()).toContain("c");
    await lastSeenAgo("c", 3 * LEASE_MS + 1);
    await new ClusterServers(test().database.db, "eager2", "http://e2:3000", "1.0.0", LEASE_MS, 1_000).seen();
    expect((await holders()).includes("c")).toBe(false);
    expect(await count()).toBe(3);
  });

  it("lists a server restarted at its URL once: the process killed before it is not listed beside it", async () => {
    const url = (holder: string) =>
      new ClusterServers(test().database.db, holder, "http://10.0.0.2:3000", "1.0.0", LEASE_MS);
    await url("killed").seen();
    await lastSeenAgo("killed", 2_000);
    await url("restarted").seen();
    expect(await holders()).toEqual(["restarted"]);
  });

  it("lists both servers given one CLUSTER_URL by mistake while both are seen", async () => {
    const url = (holder: string) =>
      new ClusterServers(test().database.db, holder, "http://127.0.0.1:3000", "1.0.0", LEASE_MS);
    await url("here").seen();
    await url("there").seen();
    await url("here").seen();
    expect((await holders()).sort()).toEqual(["here", "there"]);
  });

  it("marks a server asked to stop until it leaves, on the database's clock, through later sightings", async () => {
    const a = server("a");
    await a.seen();
    await server("b").seen();
    await a.stopping();
    const stoppingSince = async () =>
      rowsOf(await test().database.db.execute(sql`select stopping_since from cluster_servers where holder = 'a'`))[0]![
        "stopping_since"
      ];
    const since = await stoppingSince();
    expect(since).not.toBeNull();
    expect(await server("reader").live()).toEqual([
      expect.objectContaining({ holder: "a", stopping: true, answering: true }),
      expect.objectContaining({ holder: "b", stopping: false }),
    ]);
    // Seen again while it drains: still stopping, since the first request.
    await a.seen();
    await a.stopping();
    expect(await stoppingSince()).toEqual(since);
    // Its row pruned while it was cut off, then written again: it says so again.
    await test().database.db.execute(sql`delete from cluster_servers where holder = 'a'`);
    await a.seen();
    expect((await server("reader").live()).find((s) => s.holder === "a")).toMatchObject({ stopping: true });
    await a.leave();
    expect(await holders()).toEqual(["b"]);
  });

  it("lists a server unseen for more than its LEASE_MS and a half as not answering, until it is gone", async () => {
    await server("a").seen();
    await server("b").seen();
    const answering = async () => (await server("reader").live()).map((s) => [s.holder, s.answering]);
    await lastSeenAgo("b", 1.5 * LEASE_MS - 5_000);
    expect(await answering()).toEqual([
      ["a", true],
      ["b", true],
    ]);
    await lastSeenAgo("b", 1.5 * LEASE_MS + 1);
    expect(await answering()).toEqual([
      ["a", true],
      ["b", false],
    ]);
    await lastSeenAgo("b", 3 * LEASE_MS - 5_000);
    expect(await answering()).toEqual([
      ["a", true],
      ["b", false],
    ]);
    // Seen again (it was only cut off): it answers again.
    await server("b").seen();
    expect(await answering()).toEqual([
      ["a", true],
      ["b", true],
    ]);
  });

  it("lists a row written as the version before 0022 wrote it (no stopping_since) as running", async () => {
    await test().database.db.execute(
      sql`insert into cluster_servers (holder, url, version, started_at, last_seen_at, lease_ms)
          values ('old', 'http://old:3000', '0.9.0', clock_timestamp(), clock_timestamp(), ${LEASE_MS})
          on conflict (holder) do update
            set url = excluded.url, version = excluded.version, last_seen_at = excluded.last_seen_at,
                lease_ms = excluded.lease_ms`,
    );
    expect(await server("reader").live()).toEqual([
      expect.objectContaining({ holder: "old", version: "0.9.0", stopping: false, answering: true }),
    ]);
  });

  it("deletes a server's row when it leaves", async () => {
    await server("a").seen();
    await server("b").seen();
    await server("b").leave();
    expect(await holders()).toEqual(["a"]);
  });

  it("lists a server beside a leader of the version before (which holds the lease and writes no row)", async () => {
    // The version before knows nothing of cluster_servers: it only takes and renews the lease.
    const old = lease("old");
    const epoch = await old.acquire();
    await server("new").seen();
    expect(await server("new").live()).toEqual([expect.objectContaining({ holder: "new", leader: false })]);
    expect(await old.renew(epoch!)).toBe(true);
    expect(await lease("new").acquire()).toBeNull();
  });
});

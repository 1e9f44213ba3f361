import { sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { rowsOf } from "./database";
import type { AnvilDb } from "./database";

/** A server of the cluster as the database last saw it. */
export interface ClusterServer {
  /** The process, as the lease names it. */
  readonly holder: string;
  readonly url: string;
  readonly version: string;
  readonly startedAt: Date;
  readonly lastSeenAt: Date;
  /** Whether it holds the cluster's lease now. */
  readonly leader: boolean;
  /** Whether it was asked to stop (a leader finishes its generations first, then hands over). */
  readonly stopping: boolean;
  /**
   * Whether it was seen within its LEASE_MS and a half: false for a server killed or cut off, which is still listed
   * until three of its LEASE_MS have gone by.
   */
  readonly answering: boolean;
}

/** How long a row nobody has seen for is kept before any server deletes it (a server killed, or cut off). */
const PRUNE_AFTER_MS = 60 * 60 * 1000;

/** A server that has not been seen for this many of its own LEASE_MS counts as gone. */
const GONE_AFTER_LEASES = 3;

/** A server unseen for this many of its own LEASE_MS no longer answers: it writes its row every quarter of one. */
const SILENT_AFTER_LEASES = 1.5;

const asDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));

/**
 * The servers of a cluster (Oban's `oban_peers`): each writes its row at start and at each look at the lease
 * ({@link seen}), and deletes it when it stops cleanly ({@link leave}). Times are the database's clock, as the
 * lease's, so servers' clocks do not matter. A server of an older version writes no row and is simply not listed.
 */
export class ClusterServers {
  /** When this server was first seen: kept if its row goes (pruned while it was cut off) and is written again. */
  private startedAt: Date | null = null;
  /** It was asked to stop: a row written again (pruned while cut off) says so too. */
  private stopRequested = false;
  /** When this server last deleted long-gone rows (its clock); null before its first prune. */
  private prunedAt: number | null = null;

  constructor(
    private readonly db: AnvilDb,
    private readonly holder: string,
    private readonly url: string,
    private readonly version: string,
    private readonly leaseMs: number,
    private readonly pruneAfterMs = PRUNE_AFTER_MS,
    /** This server's clock, which only spaces its prunes: the rows' times are the database's. */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Writes that this server runs now, and, once a LEASE_MS has passed since its last prune, deletes the rows of
   * servers gone for longer than the prune delay (an hour, and never before the three LEASE_MS a row is listed for): a
   * delete at every tick of every server found nothing to delete nearly every time.
   */
  async seen(): Promise<void> {
    const rows = await this.run(
      sql`insert into cluster_servers (holder, url, version, started_at, last_seen_at, lease_ms, stopping_since)
          values (${this.holder}, ${this.url}, ${this.version},
                  coalesce(${this.startedAt?.toISOString() ?? null}::timestamptz, clock_timestamp()),
                  clock_timestamp(), ${this.leaseMs},
                  case when ${this.stopRequested}::boolean then clock_timestamp() end)
          on conflict (holder) do update
            set url = excluded.url, version = excluded.version, last_seen_at = excluded.last_seen_at,
                lease_ms = excluded.lease_ms,
                stopping_since = coalesce(cluster_servers.stopping_since, excluded.stopping_since)
          returning started_at`,
    );
    this.startedAt ??= asDate(rows[0]?.["started_at"]);
    if (this.prunedAt !== null && this.now() - this.prunedAt < this.leaseMs) return;
    await this.run(
      sql`delete from cluster_servers
          where last_seen_at < clock_timestamp()
                - greatest(${this.pruneAfterMs}, ${GONE_AFTER_LEASES} * lease_ms) * interval '1 millisecond'`,
    );
    // Only once it is done: a prune that failed (the database away) is tried again at the next tick.
    this.prunedAt = this.now();
  }

  /** Writes that this server was asked to stop (kept until it leaves): it still runs, maybe draining as leader. */
  async stopping(): Promise<void> {
    this.stopRequested = true;
    await this.run(
      sql`update cluster_servers set stopping_since = coalesce(stopping_since, clock_timestamp())
          where holder = ${this.holder}`,
    );
  }

  /** Deletes this server's row (a clean stop): it is not listed from now on. */
  async leave(): Promise<void> {
    await this.run(sql`delete from cluster_servers where holder = ${this.holder}`);
  }

  /**
   * The servers seen within three of their LEASE_MS, the leader first, then the oldest. A server last seen before
   * another started at its URL is the process that one replaced (killed, then restarted): only the new one is listed.
   * Two servers given one CLUSTER_URL by mistake are both seen after the other started, and both listed. One unseen
   * for more than its LEASE_MS and a half is listed as not answering.
   */
  async live(): Promise<ClusterServer[]> {
    const rows = await this.run(
      sql`select s.holder, s.url, s.version, s.started_at, s.last_seen_at, l.holder is not null as leader,
                 s.stopping_since is not null as stopping,
                 s.last_seen_at > clock_timestamp() - ${sql.raw(String(SILENT_AFTER_LEASES))} * s.lease_ms * interval '1 millisecond'
                   as answering
          from cluster_servers s
          left join cluster_leader l on l.holder = s.holder and l.expires_at > clock_timestamp()
          where s.last_seen_at > clock_timestamp() - ${GONE_AFTER_LEASES} * s.lease_ms * interval '1 millisecond'
            and not exists (select 1 from cluster_servers later
                            where later.url = s.url and later.holder <> s.holder
                              and later.started_at > s.last_seen_at)
          order by leader desc, s.started_at, s.url`,
    );
    return rows.map((row) => ({
      holder: String(row["holder"]),
      url: String(row["url"]),
      version: String(row["version"]),
      startedAt: asDate(row["started_at"]),
      lastSeenAt: asDate(row["last_seen_at"]),
      leader: row["leader"] === true,
      stopping: row["stopping"] === true,
      answering: row["answering"] === true,
    }));
  }

  /** Whether `server` is this one. */
  isOwn(server: Pick<ClusterServer, "holder">): boolean {
    return server.holder === this.holder;
  }

  private async run(query: SQL) {
    return rowsOf(await this.db.execute(query));
  }
}

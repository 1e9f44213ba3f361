import { sql } from "drizzle-orm";
import type { SQL } from "drizzle-orm";
import { rowsOf } from "./database";
import type { AnvilDb, AnvilTx, RawRow } from "./database";
import { errorChain } from "./sql-guards";

/** Who leads the cluster now: the server that drives every GPU, and where other servers reach it. */
export interface Leader {
  readonly holder: string;
  readonly url: string;
  readonly epoch: number;
  /**
   * The backends it drives (FORGE_URL without credentials; `[]`: its own built-in simulator), or null when it did
   * not say (a server of an older version leads).
   */
  readonly backends: readonly string[] | null;
  /**
   * A fingerprint of its WEBHOOK_SECRET ("none": unset; see {@link LeaderLease}), or null when it did not say (a
   * server of an older version leads).
   */
  readonly webhookSecretFingerprint: string | null;
  /**
   * How long its lease runs on without a renewal, on the database's clock, as read: a follower looks again when it
   * runs out, instead of up to a quarter of LEASE_MS later.
   */
  readonly expiresInMs: number;
}

/** A write made under a lease that is no longer held (expired, or taken over): it must not land. */
export class Fenced extends Error {
  readonly code = "ANVIL_FENCED";
  constructor(readonly epoch: number) {
    super(`This server's lease (epoch ${epoch}) is no longer held; another server took over`);
    this.name = "Fenced";
  }
}

/**
 * A term of the lease that writes are made under: `check` refuses inside a transaction (with {@link Fenced}) once the
 * term is over; a statement that checks by itself (anvil_apply_changes, anvil_store_image) takes the `holder` and
 * `epoch`.
 */
export interface WriteFence {
  readonly holder: string;
  readonly epoch: number;
  check(tx: AnvilTx): Promise<void>;
}

/** The SQLSTATE of a statement that checks its fence itself (anvil_apply_changes, anvil_store_image) and refuses. */
const FENCED_SQLSTATE = "AF001";

/**
 * What a failed statement made under `fence` throws: {@link Fenced} when the statement refused because the term is
 * over (its SQLSTATE, on the driver's error or one it wraps, as drizzle does), else the error itself.
 */
export function fencedOr(error: unknown, fence: Pick<WriteFence, "epoch"> | null | undefined): unknown {
  if (!fence) return error;
  for (const current of errorChain(error)) {
    if (current.code === FENCED_SQLSTATE) return new Fenced(fence.epoch);
  }
  return error;
}

const run = async (db: AnvilDb | AnvilTx, query: SQL): Promise<RawRow[]> => rowsOf(await db.execute(query));

/**
 * The NOTIFY channel on which a leader that hands its lease back says so (the payload: the term's epoch): a wake-up
 * for the followers, which otherwise take the lease at their next look, up to a quarter of LEASE_MS later.
 */
export const LEASE_RELEASED_CHANNEL = "anvil_lease_released";

/**
 * The cluster's one leader, elected in PostgreSQL: a one-row table holding who leads, until when, and an epoch
 * that grows with every new term (River's leader table, with fencing). Expiry is the database's clock, so
 * servers' clocks do not matter. A leader renews well within `leaseMs`; once it stops (killed, cut off from the
 * database) the lease runs out, another server may take it, and every write the old leader still tries is refused
 * by {@link fence}.
 */
export class LeaderLease {
  /**
   * `backends`: what this server drives when it leads (FORGE_URL without credentials; `[]`: its own built-in
   * simulator), recorded with each term it takes, so that servers started with another list can say so.
   * `webhookSecretFingerprint`: a fingerprint of this server's WEBHOOK_SECRET that does not reveal it ("none" when
   * unset), recorded the same way: every server signs the webhooks it delivers, so servers with another secret can
   * say so.
   */
  constructor(
    private readonly db: AnvilDb,
    private readonly holder: string,
    private readonly url: string,
    private readonly leaseMs: number,
    readonly backends: readonly string[] | null = null,
    readonly webhookSecretFingerprint: string | null = null,
  ) {}

  /**
   * Takes the lease when nobody holds it (or it ran out): a new term, with a new epoch. Null when held by another.
   * A lease this server holds already (its holder is one process's own) is taken again as a new term: an acquire
   * whose answer was lost (the connection dropped after the commit) left it leading without knowing, and nobody else
   * could lead until the lease ran out. The lost term wrote nothing (its epoch was never known here), and its
   * successor fences it off like any other.
   *
   * The new term's lease runs `leaseMs` from when the row is taken, which may be long after the statement began: the
   * update waits for the old term's writes that are stuck (each holds the row in `fence`), e.g. behind a lock on a
   * table. Counted from the statement's start, it could be over before it began, and the old leader would take it
   * straight back, each flap running the jobs on the GPUs once more.
   */
  async acquire(): Promise<number | null> {
    // The term's epoch stamps its backends: a server that records none (an older version, during a rolling
    // upgrade) takes a new term without touching them, and they read as unknown, not as the previous leader's.
    // So does its secret's fingerprint: a server of the version before it (which records backends) leaves that alone.
    const backends = this.backends === null ? null : JSON.stringify(this.backends);
    const secret = this.webhookSecretFingerprint;
    const rows = await run(
      this.db,
      sql`insert into cluster_leader (id, holder, url, epoch, expires_at, backends, backends_epoch, webhook_secret_fingerprint,
                                      webhook_secret_fingerprint_epoch)
          values (1, ${this.holder}, ${this.url}, 1, clock_timestamp() + ${this.leaseMs} * interval '1 millisecond',
                  ${backends}::jsonb, case when ${backends}::jsonb is null then null else 1 end,
                  ${secret}::text, case when ${secret}::text is null then null else 1 end)
          on conflict (id) do update
            set holder = excluded.holder, url = excluded.url, epoch = cluster_leader.epoch + 1,
                expires_at = clock_timestamp() + ${this.leaseMs} * interval '1 millisecond',
                backends = excluded.backends,
                backends_epoch = case when excluded.backends is null then null else cluster_leader.epoch + 1 end,
                webhook_secret_fingerprint = excluded.webhook_secret_fingerprint,
                webhook_secret_fingerprint_epoch =
                  case when excluded.webhook_secret_fingerprint is null then null else cluster_leader.epoch + 1 end
            where cluster_leader.expires_at < clock_timestamp() or cluster_leader.holder = excluded.holder
          returning epoch`,
    );
    const epoch = rows[0]?.["epoch"];
    return epoch === undefined ? null : Number(epoch);
  }

  /**
   * Extends the lease of term `epoch`; false when another server took over (the term is over). A lease that ran
   * out while nobody took it (the database was away from everyone) is extended: no other term began meanwhile.
   */
  async renew(epoch: number): Promise<boolean> {
    const rows = await run(
      this.db,
      sql`update cluster_leader
          set expires_at = clock_timestamp() + ${this.leaseMs} * interval '1 millisecond'
          where id = 1 and holder = ${this.holder} and epoch = ${epoch}
          returning epoch`,
    );
    return rows.length > 0;
  }

  /**
   * Ends term `epoch` at once (a clean shutdown), so another server need not wait for it to run out, and tells the
   * servers listening on {@link LEASE_RELEASED_CHANNEL} (at the commit) so that they look now, not at their next tick.
   */
  async release(epoch: number): Promise<void> {
    await run(
      this.db,
      sql`with released as (
            update cluster_leader set expires_at = clock_timestamp() - interval '1 millisecond'
            where id = 1 and holder = ${this.holder} and epoch = ${epoch}
            returning epoch)
          select pg_notify(${LEASE_RELEASED_CHANNEL}, epoch::text) from released`,
    );
  }

  /** The leader whose lease has not run out, if any. */
  async current(): Promise<Leader | null> {
    const rows = await run(
      this.db,
      sql`select holder, url, epoch, case when backends_epoch = epoch then backends end as backends,
                 case when webhook_secret_fingerprint_epoch = epoch then webhook_secret_fingerprint end as webhook_secret_fingerprint,
                 extract(epoch from expires_at - clock_timestamp()) * 1000 as expires_in_ms
          from cluster_leader where id = 1 and expires_at > clock_timestamp()`,
    );
    const row = rows[0];
    if (!row) return null;
    const backends = row["backends"];
    const webhookSecretFingerprint = row["webhook_secret_fingerprint"];
    return {
      holder: String(row["holder"]),
      url: String(row["url"]),
      epoch: Number(row["epoch"]),
      backends: Array.isArray(backends) ? backends.map(String) : null,
      webhookSecretFingerprint: typeof webhookSecretFingerprint === "string" ? webhookSecretFingerprint : null,
      expiresInMs: Math.max(0, Number(row["expires_in_ms"])),
    };
  }

  /** Whether `leader` is this server: a lease it took without hearing so (see {@link acquire}). */
  isOwn(leader: Leader): boolean {
    return leader.holder === this.holder;
  }

  /** Whether `leader` is another process at this server's own CLUSTER_URL: an earlier run of it, or a misconfiguration. */
  atOwnUrl(leader: Leader): boolean {
    return leader.url === this.url && !this.isOwn(leader);
  }

  /** Term `epoch` of this server's, as the fence of the writes made in it. */
  fenceOf(epoch: number): WriteFence {
    return { holder: this.holder, epoch, check: (tx) => this.fence(tx, epoch) };
  }

  /**
   * In a transaction: refuses (with {@link Fenced}) unless term `epoch` is still this server's. `for share` holds
   * off a takeover until this transaction ends, so no write of an old term lands after a new term began.
   */
  async fence(tx: AnvilTx, epoch: number): Promise<void> {
    const rows = await run(
      tx,
      sql`select 1 as held from cluster_leader
          where id = 1 and holder = ${this.holder} and epoch = ${epoch}
          for share`,
    );
    if (rows.length === 0) throw new Fenced(epoch);
  }
}

import { and, asc, eq, gt, inArray, isNull, lte, sql } from "drizzle-orm";
import { rowsOf } from "./database";
import type { AnvilDatabase, AnvilDb } from "./database";
import { failedSignIns, jobs, sessions, users } from "./schema";

/** A user as the API shows it. */
export interface User {
  name: string;
  admin: boolean;
  createdAt: string;
}

/** A user as `users.list` shows them: with how many of their jobs wait in the line now. */
export interface ListedUser extends User {
  waiting: number;
}

const toUser = (row: typeof users.$inferSelect): User => ({
  name: row.name,
  admin: row.admin,
  createdAt: row.createdAt.toISOString(),
});

/**
 * Users and their web sessions. Secrets never reach this store: callers pass the SHA-256 of a token or a session
 * id, so a leaked database names no working credential.
 */
export class UserStore {
  private readonly db: AnvilDb;

  constructor(database: Pick<AnvilDatabase, "db">) {
    this.db = database.db;
  }

  /**
   * Adds a user; null when the name is taken. A user a trusted proxy named (made on first sight, with no token of
   * its own) is not taken: it gets the token, and the admin flag if asked, as the contract lets `users.create` make
   * it one; an admin it is already (`users.update`) it stays: giving a token never takes rights away.
   */
  async create(name: string, admin: boolean, tokenHash: string | null): Promise<User | null> {
    const [row] = await this.db
      .insert(users)
      .values({ name, admin, tokenHash })
      .onConflictDoUpdate({
        target: users.name,
        set: { admin: sql`${users.admin} or excluded.admin`, tokenHash },
        setWhere: isNull(users.tokenHash),
      })
      .returning();
    return row === undefined ? null : toUser(row);
  }

  /**
   * Makes `name` an admin bound to `tokenHash` (the API_TOKEN's admin, bound to that token: see the server's
   * auth.ts); bound to another hash before (or to none), its sessions end. One transaction that locks the row, so
   * that sign-ins at once, on any server of a cluster, neither fail nor end each other's new sessions.
   */
  async bindAdmin(name: string, tokenHash: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      // The row first, without the hash: made with it, two first sign-ins at once would both insert it, and the
      // second would fail on the unique token hash (ON CONFLICT answers for the name alone) instead of waiting.
      await tx.insert(users).values({ name, admin: true }).onConflictDoNothing({ target: users.name });
      const changed = await tx
        .update(users)
        .set({ admin: true, tokenHash })
        .where(and(eq(users.name, name), sql`${users.tokenHash} is distinct from ${tokenHash}`))
        .returning({ name: users.name });
      if (changed.length > 0) await tx.delete(sessions).where(eq(sessions.userName, name));
    });
  }

  /**
   * The user of that name, made (not an admin, no token) when there is none: a name a trusted proxy vouches for,
   * or the API_TOKEN's admin.
   */
  async ensure(name: string, admin = false): Promise<User> {
    const [made] = await this.db.insert(users).values({ name, admin }).onConflictDoNothing().returning();
    if (made) return toUser(made);
    const found = await this.byName(name);
    if (!found) throw new Error(`user ${name} vanished while it was being made`);
    return found;
  }

  /** One user, or null. */
  async byName(name: string): Promise<User | null> {
    const [row] = await this.db.select().from(users).where(eq(users.name, name));
    return row === undefined ? null : toUser(row);
  }

  /** The user whose token has this hash, or null. */
  async byTokenHash(tokenHash: string): Promise<User | null> {
    const [row] = await this.db.select().from(users).where(eq(users.tokenHash, tokenHash));
    return row === undefined ? null : toUser(row);
  }

  /**
   * Every user, by name, with how many of their jobs wait (status `queued`), in one query. The waiting jobs are
   * counted by owner from the queued jobs' partial index: as many rows as the line holds, however long each user's
   * history.
   */
  async list(): Promise<ListedUser[]> {
    const waiting = this.db
      .select({ owner: jobs.owner, count: sql<number>`count(*)::int`.as("count") })
      .from(jobs)
      .where(eq(jobs.status, "queued"))
      .groupBy(jobs.owner)
      .as("waiting");
    const rows = await this.db
      .select({ user: users, waiting: sql<number>`coalesce(${waiting.count}, 0)::int` })
      .from(users)
      .leftJoin(waiting, eq(waiting.owner, users.name))
      .orderBy(asc(users.name));
    return rows.map((row) => ({ ...toUser(row.user), waiting: Number(row.waiting) }));
  }

  /**
   * Makes `name` an admin or no longer one; null when there is no such user. `changed` says whether the flag was
   * another before: only then did what the user has open (streams, WebSockets) start with rights they no longer have.
   */
  async setAdmin(name: string, admin: boolean): Promise<{ user: User; changed: boolean } | null> {
    const [row] = await this.db
      .update(users)
      .set({ admin })
      .where(and(eq(users.name, name), sql`${users.admin} is distinct from ${admin}`))
      .returning();
    if (row !== undefined) return { user: toUser(row), changed: true };
    const user = await this.byName(name);
    return user === null ? null : { user, changed: false };
  }

  /** Removes a user and (by cascade) their sessions; their jobs and conversations stay. False when unknown. */
  async remove(name: string): Promise<boolean> {
    const removed = await this.db.delete(users).where(eq(users.name, name)).returning({ name: users.name });
    return removed.length > 0;
  }

  /** Stores a session (by the hash of its id) for a user, until `expiresAt`. */
  async createSession(idHash: string, userName: string, expiresAt: Date): Promise<void> {
    await this.db.insert(sessions).values({ idHash, userName, expiresAt });
  }

  /** The user of an unexpired session, or null. */
  async sessionUser(idHash: string, now = new Date()): Promise<User | null> {
    const [row] = await this.db
      .select({ user: users })
      .from(sessions)
      .innerJoin(users, eq(users.name, sessions.userName))
      .where(and(eq(sessions.idHash, idHash), gt(sessions.expiresAt, now)));
    return row === undefined ? null : toUser(row.user);
  }

  /**
   * Which of the sessions `idHashes` name are still signed in (not ended, not expired); with `admin`, only those whose
   * user is still an admin.
   */
  async liveSessions(idHashes: readonly string[], now = new Date(), { admin = false } = {}): Promise<Set<string>> {
    if (idHashes.length === 0) return new Set();
    const rows = await this.db
      .select({ idHash: sessions.idHash })
      .from(sessions)
      .innerJoin(users, eq(users.name, sessions.userName))
      .where(
        and(
          inArray(sessions.idHash, [...idHashes]),
          gt(sessions.expiresAt, now),
          admin ? eq(users.admin, true) : undefined,
        ),
      );
    return new Set(rows.map((row) => row.idHash));
  }

  /**
   * Which of the token hashes `tokenHashes` still name a user (one removed takes its token with it); with `admin`, a
   * user who is still an admin.
   */
  async liveTokens(tokenHashes: readonly string[], { admin = false } = {}): Promise<Set<string>> {
    if (tokenHashes.length === 0) return new Set();
    const rows = await this.db
      .select({ tokenHash: users.tokenHash })
      .from(users)
      .where(and(inArray(users.tokenHash, [...tokenHashes]), admin ? eq(users.admin, true) : undefined));
    return new Set(rows.flatMap((row) => (row.tokenHash === null ? [] : [row.tokenHash])));
  }

  /** Which of `names` are admins now. */
  async admins(names: readonly string[]): Promise<Set<string>> {
    if (names.length === 0) return new Set();
    const rows = await this.db
      .select({ name: users.name })
      .from(users)
      .where(and(inArray(users.name, [...names]), eq(users.admin, true)));
    return new Set(rows.map((row) => row.name));
  }

  /** Ends a session (signing out); false when there was none. */
  async endSession(idHash: string): Promise<boolean> {
    const ended = await this.db.delete(sessions).where(eq(sessions.idHash, idHash)).returning({ id: sessions.idHash });
    return ended.length > 0;
  }

  /** Deletes expired sessions; returns how many. */
  async pruneSessions(now = new Date()): Promise<number> {
    return (await this.db.delete(sessions).where(lte(sessions.expiresAt, now)).returning({ id: sessions.idHash }))
      .length;
  }

  /**
   * Counts a failed sign-in from `address` where every server of a cluster sees it, and answers how long ago (ms,
   * the oldest first) each failure from that address within the last `windowMs` was, this one included. Failures
   * older than the window, from any address, are deleted on the way: the table holds one minute's guesses.
   */
  async recordFailedSignIn(address: string, windowMs: number): Promise<number[]> {
    const since = sql`now() - make_interval(secs => ${windowMs / 1000})`;
    const rows = rowsOf(
      await this.db.execute(sql`
        with gone as (delete from ${failedSignIns} where at < ${since}),
          added as (insert into ${failedSignIns} (address) values (${address}) returning at)
        select (extract(epoch from now() - at) * 1000)::float8 as age
        from ${failedSignIns} where address = ${address} and at >= ${since}
        union all select 0::float8 from added
        order by age desc`),
    );
    return rows.map((row) => Number(row["age"]));
  }
}

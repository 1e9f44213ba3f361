import { LEASE_RELEASED_CHANNEL, LeaderLease, openDatabase } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ClusterRole } from "./cluster-role";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";

/** A lease whose next `acquire` waits until `open` is called: an election caught half way. */
class HeldElection extends LeaderLease {
  private gate: Promise<void> | null = null;
  private opened: () => void = () => undefined;
  /** Resolves once an `acquire` waits at the gate. */
  arrived: Promise<void> = Promise.resolve();

  hold(): void {
    let arrive: () => void = () => undefined;
    this.arrived = new Promise((resolve) => (arrive = resolve));
    this.gate = new Promise((resolve) => (this.opened = resolve));
    const gate = this.gate;
    const acquire = super.acquire.bind(this);
    this.acquire = async () => {
      arrive();
      await gate;
      return acquire();
    };
  }

  open(): void {
    this.opened();
  }
}

/** A lease whose first `acquire` commits but whose answer is lost, as when the connection drops after the commit. */
class LostAnswer extends LeaderLease {
  private lost = false;

  override async acquire(): Promise<number | null> {
    const epoch = await super.acquire();
    if (this.lost) return epoch;
    this.lost = true;
    throw new Error("write CONNECTION_CLOSED 127.0.0.1:5432");
  }
}

/** A lease whose renewals wait once `stuck` is set, until it is cleared: a lock holds the lease's row up. */
class StuckRenewal extends LeaderLease {
  stuck = false;

  override async renew(epoch: number): Promise<boolean> {
    while (this.stuck) await new Promise((resolve) => setTimeout(resolve, 20));
    return super.renew(epoch);
  }
}

/** A lease whose reads of the leader fail once `away` is set, as when the database stops answering. */
class AwayDatabase extends LeaderLease {
  away = false;

  override async acquire(): Promise<number | null> {
    if (this.away) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.acquire();
  }

  override async current(): ReturnType<LeaderLease["current"]> {
    if (this.away) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    return super.current();
  }
}

/**
 * A lease that the database stops answering once `away` is set (every statement fails, a leader's renewal too), and
 * that counts the statements it answered since `away` was last cleared.
 */
class CutOff extends LeaderLease {
  away = false;
  answered = 0;

  private async answer<T>(statement: () => Promise<T>): Promise<T> {
    if (this.away) throw new Error("connect ECONNREFUSED 127.0.0.1:5432");
    const result = await statement();
    this.answered += 1;
    return result;
  }

  back(): void {
    this.away = false;
    this.answered = 0;
  }

  override acquire(): Promise<number | null> {
    return this.answer(() => super.acquire());
  }

  override renew(epoch: number): Promise<boolean> {
    return this.answer(() => super.renew(epoch));
  }

  override current(): ReturnType<LeaderLease["current"]> {
    return this.answer(() => super.current());
  }
}

describe.each(testDrivers())("ClusterRole on $kind", (driver) => {
  let test: TestDatabase | null = null;
  let database: AnvilDatabase | null = null;
  afterEach(async () => {
    vi.useRealTimers();
    await database?.close();
    await test?.dispose();
    database = null;
    test = null;
  });
  /** A fresh database of the driver's kind, made for the test and removed after it. */
  const open = async (): Promise<AnvilDatabase> => {
    const made = await driver.create();
    test = made;
    return openDatabase(made.databaseUrl ? { url: made.databaseUrl } : { dataDir: made.dataDir });
  };
  /** A role on `lease` that does nothing as it leads or steps down, and the lines it logged with their levels. */
  /** A role on `lease` (LEASE_MS 400) that keeps what it logs, started: it leads. */
  const loggingLeader = async (lease: LeaderLease) => {
    const logged: { message: string; level: string | undefined }[] = [];
    const role = new ClusterRole({
      lease,
      leaseMs: 400,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: (message, _fields, level) => void logged.push({ message, level }),
    });
    await role.start();
    expect(role.role.kind).toBe("leader");
    return { role, logged };
  };

  it("does not lead a term it wins while it stops, or stops leading it before it gives the lease back", async () => {
    database = await open();
    const { db } = database;
    // Another server leads: this one starts as a follower.
    const other = new LeaderLease(db, "other", "http://other", 60_000);
    const otherEpoch = await other.acquire();
    expect(otherEpoch).not.toBeNull();
    const lease = new HeldElection(db, "this", "http://this", 60_000);
    const led: number[] = [];
    const steppedDown: number[] = [];
    const role = new ClusterRole({
      lease,
      leaseMs: 200,
      lead: async (epoch) => void led.push(epoch),
      stepDown: async (epoch) => void steppedDown.push(epoch),
      log: () => undefined,
    });
    await role.start();
    expect(role.role.kind).toBe("follower");
    // The leader goes; this server's next election is under way when SIGTERM comes.
    lease.hold();
    await other.release(otherEpoch!);
    await lease.arrived;
    const stopped = role.stop();
    lease.open();
    await stopped;
    // Either it never led, or the term it led was ended before the lease went back: nothing of it runs on.
    expect(led.filter((epoch) => !steppedDown.includes(epoch))).toEqual([]);
    const rows = await db.execute(sql`select holder, expires_at > clock_timestamp() as held from cluster_leader`);
    const row = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows)[0] as { held: boolean };
    expect(row.held).toBe(false);
  });

  it("leads at its next tick, not once its lease ran out, when the answer to the acquire that took it was lost", async () => {
    database = await open();
    const led: number[] = [];
    const role = new ClusterRole({
      // Held for a minute: waiting for it to run out would outlast the test.
      lease: new LostAnswer(database.db, "this", "http://this", 60_000),
      leaseMs: 200,
      lead: async (epoch) => void led.push(epoch),
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect(role.role.kind).toBe("follower");
    const forwardedTo = new Set<string>();
    await expect
      .poll(
        () => {
          const now = role.role;
          if (now.kind === "follower" && now.leader) forwardedTo.add(now.leader.url);
          return now.kind;
        },
        { timeout: 10_000, interval: 5 },
      )
      .toBe("leader");
    // Meanwhile it never took itself for a leader to forward to.
    expect([...forwardedTo]).toEqual([]);
    // A new term: the lost one's epoch was never known here, so nothing was written under it.
    expect(led).toEqual([2]);
    await role.stop();
  });

  it("keeps forwarding to the leader it knows while the database does not answer it", async () => {
    database = await open();
    await new LeaderLease(database.db, "other", "http://other", 60_000).acquire();
    const lease = new AwayDatabase(database.db, "this", "http://this", 60_000);
    const role = new ClusterRole({
      lease,
      leaseMs: 200,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect(await role.leader()).toMatchObject({ url: "http://other" });
    lease.away = true;
    // Several ticks (one every 50 ms) that cannot read the lease.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(role.role).toMatchObject({ kind: "follower", leader: { url: "http://other" } });
    expect(await role.leader()).toMatchObject({ url: "http://other" });
    lease.away = false;
    await role.stop();
  });

  it("leaves the lease to its leader when the database comes back after it was away from both for over LEASE_MS", async () => {
    database = await open();
    const leaseMs = 2_000;
    const roleOn = (lease: LeaderLease, led: number[]) =>
      new ClusterRole({
        lease,
        leaseMs,
        lead: async (epoch) => void led.push(epoch),
        stepDown: async () => undefined,
        log: () => undefined,
      });
    const leaderLease = new CutOff(database.db, "leader", "http://leader", leaseMs);
    const followerLease = new CutOff(database.db, "follower", "http://follower", leaseMs);
    const ledByLeader: number[] = [];
    const ledByFollower: number[] = [];
    const leader = roleOn(leaderLease, ledByLeader);
    await leader.start();
    const follower = roleOn(followerLease, ledByFollower);
    await follower.start();
    expect([leader.role.kind, follower.role.kind]).toEqual(["leader", "follower"]);
    const { epoch } = leader.role as { epoch: number };
    // PostgreSQL restarts: neither server reaches it until the leader's lease has run out in the database.
    leaderLease.away = true;
    followerLease.away = true;
    await expect.poll(() => leader.leaseLapsed, { timeout: 10_000 }).toBe(true);
    // It is back, and the follower reaches it a moment before the leader does: a term taken then would run the
    // leader's generations again, though the leader was there all along and nobody else could have led meanwhile.
    followerLease.back();
    await expect.poll(() => followerLease.answered, { timeout: 10_000 }).toBeGreaterThan(0);
    leaderLease.back();
    await expect.poll(() => leader.leaseLapsed, { timeout: 10_000 }).toBe(false);
    expect(leader.role).toEqual({ kind: "leader", epoch });
    expect(ledByFollower).toEqual([]);
    await expect.poll(async () => (await follower.leader())?.url, { timeout: 10_000 }).toBe("http://leader");
    await follower.stop();
    await leader.stop();
  });

  it("ends its spell of failed renewals with its term, so no later term says the lease is renewed again", async () => {
    database = await open();
    const lease = new CutOff(database.db, "this", "http://this", 400);
    const { role, logged } = await loggingLeader(lease);
    // Cut off from the database (its role's login refused, say) until another server has taken the lease over.
    lease.away = true;
    const other = new LeaderLease(database.db, "other", "http://other", 60_000);
    let otherEpoch: number | null = null;
    await expect.poll(async () => (otherEpoch = await other.acquire()), { timeout: 10_000 }).not.toBeNull();
    lease.back();
    await expect.poll(() => role.role.kind, { timeout: 10_000 }).toBe("follower");
    // Back as the leader in a later term, whose renewals go through.
    await other.release(otherEpoch!);
    await expect.poll(() => role.role.kind, { timeout: 10_000 }).toBe("leader");
    await role.stop();
    const said = logged.map(({ message, level }) => `${level ?? "info"}: ${message}`);
    const failed = said.indexOf("warn: could not renew the cluster lease");
    const over = said.indexOf("info: the cluster lease is no longer renewed: this server's term ended");
    expect(failed).toBeGreaterThanOrEqual(0);
    expect(over).toBeGreaterThan(failed);
    expect(said[over + 1]).toBe("warn: this server no longer leads the cluster");
    expect(said.filter((line) => line.includes("renewed again"))).toEqual([]);
  });

  it("says when a renewal of its lease goes unanswered for half of LEASE_MS, and when it is renewed again", async () => {
    database = await open();
    const lease = new StuckRenewal(database.db, "this", "http://this", 60_000);
    const { role, logged } = await loggingLeader(lease);
    lease.stuck = true;
    const unanswered = /renewal is not answered/;
    await expect.poll(() => logged.some((l) => unanswered.test(l.message)), { timeout: 10_000 }).toBe(true);
    expect(logged.find((l) => unanswered.test(l.message))?.level).toBe("warn");
    lease.stuck = false;
    await expect
      .poll(() => logged.some((l) => l.message === "the cluster lease is renewed again"), { timeout: 10_000 })
      .toBe(true);
    await role.stop();
  });

  it("knows its lease lapsed once cut off from the database for LEASE_MS, even with its wall clock set back", async () => {
    database = await open();
    const lease = new StuckRenewal(database.db, "this", "http://this", 60_000);
    const role = new ClusterRole({
      lease,
      leaseMs: 400,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect([role.role.kind, role.leaseLapsed]).toEqual(["leader", false]);
    // An NTP step sets the wall clock an hour back (only Date is faked: timers run as ever), then no renewal is
    // answered. Measured on the wall clock, this leader went on dispatching for that hour beside the next one.
    vi.useFakeTimers({ toFake: ["Date"], shouldAdvanceTime: true });
    vi.setSystemTime(Date.now() - 3_600_000);
    lease.stuck = true;
    await expect.poll(() => role.leaseLapsed, { timeout: 10_000 }).toBe(true);
    lease.stuck = false;
    await expect.poll(() => role.leaseLapsed, { timeout: 10_000 }).toBe(false);
    await role.stop();
  });

  it("looks at the lease every 2.5 s at most, so a long LEASE_MS of its own does not delay a takeover", async () => {
    database = await open();
    const other = new LeaderLease(database.db, "other", "http://other", 60_000);
    const otherEpoch = (await other.acquire())!;
    // The longest LEASE_MS there is: a look every quarter of it would be every 150 s.
    const leaseMs = 600_000;
    const role = new ClusterRole({
      lease: new LeaderLease(database.db, "this", "http://this", leaseMs),
      leaseMs,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect(role.role.kind).toBe("follower");
    await other.release(otherEpoch);
    await expect.poll(() => role.role.kind, { timeout: 10_000, interval: 100 }).toBe("leader");
    await role.stop();
  });

  it("takes a lease handed back as soon as the leader's NOTIFY says so, not at its next look", async () => {
    database = await open();
    const other = new LeaderLease(database.db, "other", "http://other", 60_000);
    const otherEpoch = (await other.acquire())!;
    const logged: { message: string; fields: unknown }[] = [];
    const role = new ClusterRole({
      lease: new LeaderLease(database.db, "this", "http://this", 60_000),
      leaseMs: 60_000,
      // No look of its own within the test: only the word that the lease was handed back can make it lead.
      lookEveryMs: 3_600_000,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: (message, fields) => void logged.push({ message, fields }),
    });
    const stopListening = await database.listen(LEASE_RELEASED_CHANNEL, () => role.lookNow());
    await role.start();
    expect(role.role.kind).toBe("follower");
    await other.release(otherEpoch);
    await expect.poll(() => role.role.kind, { timeout: 10_000 }).toBe("leader");
    expect(logged.find((line) => line.message === "this server leads the cluster")?.fields).toMatchObject({
      handedOver: true,
    });
    await stopListening();
    await role.stop();
  });

  it("looks again as the leader's lease runs out, not at its next tick: a killed leader is replaced at once", async () => {
    database = await open();
    // A leader that is never renewed again: killed just after it took the lease.
    await new LeaderLease(database.db, "other", "http://other", 1_500).acquire();
    const role = new ClusterRole({
      lease: new LeaderLease(database.db, "this", "http://this", 60_000),
      leaseMs: 60_000,
      // No tick of its own within the test: only the time its first look read can make it look again.
      lookEveryMs: 3_600_000,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect(role.role.kind).toBe("follower");
    await expect.poll(() => role.role.kind, { timeout: 10_000 }).toBe("leader");
    await role.stop();
  });

  it("tells another running server leading at its own CLUSTER_URL from an earlier run of itself", async () => {
    database = await open();
    const leaseMs = 400;
    // Another server started with this one's CLUSTER_URL (one template for both): it leads and renews.
    const other = new ClusterRole({
      lease: new LeaderLease(database.db, "other", "http://this", leaseMs),
      leaseMs,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await other.start();
    const logged: { message: string; level: string | undefined }[] = [];
    const role = new ClusterRole({
      lease: new LeaderLease(database.db, "this", "http://this", leaseMs),
      leaseMs,
      lead: async () => undefined,
      stepDown: async () => undefined,
      log: (message, _fields, level) => void logged.push({ message, level }),
    });
    try {
      await role.start();
      // Within a lease it may be an earlier run of this server, killed: its lease would run out.
      expect(role.ownUrlTaken).toBe(false);
      await expect.poll(() => role.ownUrlTaken, { timeout: 5_000 }).toBe(true);
      expect(logged.filter((line) => line.level === "error").map((line) => line.message)).toEqual([
        expect.stringMatching(/^another running server leads at this server's own CLUSTER_URL \(http:\/\/this\)/),
      ]);
      // That server stops: this one leads, and no longer says the address is taken.
      await other.stop();
      await expect.poll(() => role.role.kind, { timeout: 5_000 }).toBe("leader");
      expect(role.ownUrlTaken).toBe(false);
    } finally {
      await role.stop();
      await other.stop();
    }
  });

  it("keeps its lease while its term starts, however long rebuilding the line takes", async () => {
    database = await open();
    const { db } = database;
    const leaseMs = 1_000;
    const other = new LeaderLease(db, "other", "http://other", leaseMs);
    let taken = false;
    const role = new ClusterRole({
      lease: new LeaderLease(db, "this", "http://this", leaseMs),
      leaseMs,
      // A start that takes more than two leases (a long line read from the database): another server tries to take
      // over meanwhile, as followers do.
      lead: async () => {
        for (let i = 0; i < 10 && !taken; i++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          taken = (await other.acquire()) !== null;
        }
      },
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect(taken).toBe(false);
    await role.stop();
  });

  it("leads as soon as its term has started: the renewals during the start do not hold it up", async () => {
    database = await open();
    // A renewal every 150 s: a start that waited for the next one would outlast the test's timeout.
    const leaseMs = 600_000;
    let led = false;
    const role = new ClusterRole({
      lease: new LeaderLease(database.db, "this", "http://this", leaseMs),
      leaseMs,
      lead: async () => void (led = true),
      stepDown: async () => undefined,
      log: () => undefined,
    });
    await role.start();
    expect([led, role.role.kind]).toEqual([true, "leader"]);
    await role.stop();
  });

  it("drains a term whose start was under way when it was told to stop, before it gives the lease back", async () => {
    database = await open();
    const lease = new LeaderLease(database.db, "this", "http://this", 60_000);
    let started: () => void = () => undefined;
    const starting = new Promise<void>((resolve) => (started = resolve));
    let finishLead: () => void = () => undefined;
    const leadGate = new Promise<void>((resolve) => (finishLead = resolve));
    // As anvil.ts's: the job service exists once `lead` resolved, and only then can a drain stop it.
    let service: { epoch: number; stopped: boolean } | null = null;
    const role = new ClusterRole({
      lease,
      leaseMs: 200,
      lead: async (epoch) => {
        started();
        await leadGate;
        service = { epoch, stopped: false };
      },
      stepDown: async () => {
        if (service) service.stopped = true;
      },
      log: () => undefined,
    });
    const starts = role.start();
    await starting;
    const stopped = role.stop(async () => {
      if (service) service.stopped = true;
    });
    finishLead();
    await starts;
    await stopped;
    expect(service).toMatchObject({ stopped: true });
  });

  it("marks its row as stopping before a leader drains, and does not wait on a mark the database leaves unanswered", async () => {
    database = await open();
    const steps: string[] = [];
    /** A row whose mark never answers when `hangs`: the database gone as the stop begins. */
    const member = (hangs: boolean) => ({
      seen: async () => undefined,
      stopping: () => {
        steps.push("stopping");
        return hangs ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      leave: async () => void steps.push("leave"),
    });
    const role = (name: string, hangs: boolean) =>
      new ClusterRole({
        member: member(hangs),
        lease: new LeaderLease(database!.db, name, `http://${name}`, 60_000),
        leaseMs: 200,
        lead: async () => undefined,
        stepDown: async () => undefined,
        log: () => undefined,
      });
    const leader = role("leader", false);
    await leader.start();
    expect(leader.role.kind).toBe("leader");
    await leader.stop(async () => void steps.push("drain"));
    expect(steps).toEqual(["stopping", "drain", "leave"]);

    steps.length = 0;
    const unanswered = role("unanswered", true);
    await unanswered.start();
    await unanswered.stop(async () => void steps.push("drain"));
    expect(steps).toEqual(["stopping", "drain", "leave"]);
  });
});

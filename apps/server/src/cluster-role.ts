import { FailureSpell, settleWithin } from "@anvil/api";
import type { LogHook } from "@anvil/api";
import { databaseErrorText } from "@anvil/persistence";
import type { Leader, LeaderLease } from "@anvil/persistence";

/** What a server does in the cluster: drive the GPUs (leader), or forward to the one that does (follower). */
export type Role = { kind: "leader"; epoch: number } | { kind: "follower"; leader: Leader | null };

/** What the role loop asks of the server it runs in. */
export interface ClusterRoleOptions {
  readonly lease: LeaderLease;
  readonly leaseMs: number;
  /** Starts this server's term as leader: rebuild the line from the database and dispatch. */
  readonly lead: (epoch: number) => Promise<void>;
  /** Ends the term at once (the lease is lost or about to be): stop dispatching, interrupt, write nothing more. */
  readonly stepDown: (epoch: number, why: string) => Promise<void>;
  readonly log: LogHook;
  /** Whether callers of this server must sign in (API_TOKEN or AUTH_PROXY_HEADER), to compare with the leader's. */
  readonly signInRequired?: boolean;
  /** Whether the leader at `url` asks callers to sign in (its `/auth/status`); null when it could not be asked. */
  readonly leaderRequiresSignIn?: (url: string) => Promise<boolean | null>;
  /**
   * This server's row in `cluster_servers`: written at start and at each tick, marked as stopping as soon as a stop
   * begins, deleted on a clean stop.
   */
  readonly member?: { seen(): Promise<void>; stopping(): Promise<void>; leave(): Promise<void> };
  /** How often to look at the lease: a quarter of `leaseMs`, 2.5 s at most, unless given (a test's, longer). */
  readonly lookEveryMs?: number;
}

/** Asks a server's `/auth/status` (no credentials) whether its callers must sign in; null when it does not answer. */
export const askSignInRequired = async (url: string): Promise<boolean | null> => {
  try {
    const response = await fetch(`${url}/auth/status`, { signal: AbortSignal.timeout(5_000) });
    const { required } = (await response.json()) as { required?: unknown };
    return typeof required === "boolean" ? required : null;
  } catch {
    return null;
  }
};

/**
 * The longest between two looks at the lease: a follower with a long LEASE_MS of its own (or one longer than the
 * leader's) still takes over soon after the leader's lease runs out, not up to a quarter of its own LEASE_MS later.
 */
const MAX_TICK_MS = 2_500;

/** How long after the leader's lease runs out a follower that saw it about to looks again. */
const LOOK_AFTER_EXPIRY_MS = 5;

/**
 * How many of its looks at the lease a follower that lost the database lets pass once it is back, before it may take a
 * lease that ran out meanwhile (see {@link ClusterRole.holdsOff}): a LEASE_MS, 10 s at most.
 */
const LOOKS_BEFORE_TAKING_OVER = 4;

/**
 * The longest a stop waits for its row to be marked as stopping: only the list of servers needs it, and a database that
 * does not answer must not hold up a stop (the lease's release has its own bounds).
 */
const MARK_STOPPING_MS = 2_000;

/** Waits `ms`, or less once `woken` settles; its timer goes either way, so a stop leaves none behind. */
const sleepUnless = (ms: number, woken: Promise<void>): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slept = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([slept, woken]).finally(() => clearTimeout(timer));
};

/** A backend list as the log shows it. */
const shown = (backends: readonly string[]): string =>
  backends.length === 0 ? "its own built-in simulator (no FORGE_URL)" : backends.join(",");

/**
 * What two servers' backend lists differ in, or null when they drive the same GPUs (in any order; two built-in
 * simulators count as the same: each server has its own, and nobody set FORGE_URL).
 */
const difference = (
  mine: readonly string[],
  theirs: readonly string[],
): { onlyHere: string[]; onlyThere: string[] } | null => {
  const onlyHere = mine.filter((url) => !theirs.includes(url));
  const onlyThere = theirs.filter((url) => !mine.includes(url));
  if (onlyHere.length === 0 && onlyThere.length === 0 && (mine.length === 0) === (theirs.length === 0)) return null;
  return { onlyHere, onlyThere };
};

const SAME_SECRET = "start every server of a cluster with the same WEBHOOK_SECRET";

/**
 * What is wrong when this server's WEBHOOK_SECRET fingerprint (`mine`) is not `theirs` (another server's, "none"
 * when unset), or null when they are the same or either is unknown. Every server delivers webhooks from the shared
 * outbox and signs them with its own secret, so a receiver checking X-Anvil-Signature would reject some at random.
 */
const secretMismatch = (mine: string | null, theirs: string | null, them: string): string | null => {
  if (mine === null || theirs === null || mine === theirs) return null;
  if (mine === "none") {
    return `this server has no WEBHOOK_SECRET but ${them} has one: the webhooks this server delivers go unsigned, and a receiver that checks X-Anvil-Signature rejects them; ${SAME_SECRET}`;
  }
  if (theirs === "none") {
    return `this server has a WEBHOOK_SECRET but ${them} has none: the webhooks ${them} delivers go unsigned, and a receiver that checks X-Anvil-Signature rejects them; ${SAME_SECRET}`;
  }
  return `this server's WEBHOOK_SECRET differs from ${them}'s: each server signs the webhooks it delivers with its own, so a receiver rejects some of them; ${SAME_SECRET}`;
};

/**
 * Keeps this server's role true to the database. A follower tries to take the lease whenever nobody holds it; a
 * leader renews it four times per `leaseMs` (at least every 2.5 s) and steps down as soon as the database says
 * another server took over.
 * A leader cut off from the database cannot start anything (a start is written before it is acted on) and its
 * writes are fenced once another server leads; the next leader interrupts what it left running on a backend.
 */
export class ClusterRole {
  private current: Role = { kind: "follower", leader: null };
  private running: Promise<void> | null = null;
  private stopping = false;
  /** A stop began: no new term is taken (the loop still renews one this server holds, while it drains). */
  private leaving = false;
  /** The election or renewal under way (a term's start included), for a stop to wait out before it drains. */
  private ticking: Promise<void> = Promise.resolve();
  /** Ends the loop's wait for its next tick, once a stop no longer needs it. */
  private wake: () => void = () => undefined;
  private readonly woken = new Promise<void>((resolve) => (this.wake = resolve));
  /** Ends the loop's current wait for its next tick early (see {@link lookNow}). */
  private nudge: () => void = () => undefined;
  /** A {@link lookNow} came while no wait was under way: the next wait ends at once. */
  private nudged = false;
  /**
   * A follower's last look found the leader's lease running out sooner than its next tick: the next look is then (its
   * monotonic time), so that a killed leader is replaced as its lease runs out, not up to a tick later.
   */
  private leaseRunsOutAt: number | null = null;
  private readonly tickMs: number;
  /** Renewals that go unanswered while the database is away: said once, not four times per lease. */
  private readonly renewFailures: FailureSpell;
  /** The last leader this server saw: its backends are compared with this server's once per term. */
  private seen: Leader | null = null;
  /** This server led since it last saw another leader: the next one it sees took over from it. */
  private ledBefore = false;
  /**
   * When this server's lease was last taken or renewed, on the monotonic clock: a wall clock set back (NTP) kept a
   * leader cut off from the database believing it led for as long as the step.
   */
  private renewedAt = 0;
  /** The write of this server's row under way: one at a time, and never in the way of the lease's renewal. */
  private beating: Promise<void> | null = null;
  /**
   * A follower's sight of the database: `away` while its looks at the lease go unanswered, then when it answered
   * again (monotonic clock) until the wait that follows is over; null while it answers.
   */
  private databaseBack: "away" | number | null = null;

  constructor(private readonly options: ClusterRoleOptions) {
    this.tickMs = options.lookEveryMs ?? Math.min(MAX_TICK_MS, Math.max(50, Math.floor(options.leaseMs / 4)));
    this.renewFailures = new FailureSpell(options.log, "the cluster lease is renewed again");
  }

  /** The role right now. */
  get role(): Role {
    return this.current;
  }

  /**
   * A leader whose renewals have gone unanswered for `leaseMs` (cut off from the database): by now another server
   * may hold the lease and have taken its work over, interrupting on the backends what it left there.
   */
  get leaseLapsed(): boolean {
    return this.current.kind === "leader" && performance.now() - this.renewedAt > this.options.leaseMs;
  }

  /** Starts the loop; the first election happens before this resolves, so a lone server leads at once. */
  async start(): Promise<void> {
    await (this.ticking = this.tick());
    // Listed before it answers its first call: every server asked lists it from then on.
    await this.beat();
    this.running = this.loop();
  }

  /**
   * Leaves the cluster. A leader keeps renewing its lease while `drain` lets its running generations finish (no
   * other server may take them over meanwhile), then hands the lease back so another server takes over at once.
   */
  async stop(drain: () => Promise<void> = async () => undefined): Promise<void> {
    // An election or a term's start under way (SIGTERM during an election) ends first: a term won meanwhile is then
    // drained like any other before its lease goes back, instead of running on unstopped behind a released lease.
    this.leaving = true;
    // Said first, while a leader drains: an operator listing the servers sees which one is about to hand over.
    const marked = this.markStopping();
    await this.ticking;
    if (this.current.kind === "leader") await drain();
    this.stopping = true;
    this.wake();
    await this.running;
    const role = this.current;
    if (role.kind === "leader") {
      await this.options.lease.release(role.epoch).catch(() => undefined);
      this.current = { kind: "follower", leader: null };
    }
    // A write of its row still under way would bring it back after the delete.
    await this.beating;
    // A mark still under way after its bound finds no row once it is deleted: it cannot bring the row back.
    await marked;
    await this.options.member?.leave().catch(() => undefined);
  }

  /** Marks this server's row as stopping; settles within MARK_STOPPING_MS, whether written or not. */
  private async markStopping(): Promise<void> {
    const { member, log } = this.options;
    if (!member) return;
    const mark = member.stopping().catch((error: unknown) => {
      log("could not mark this server as stopping in cluster_servers", { error: databaseErrorText(error) }, "debug");
    });
    await settleWithin(mark, MARK_STOPPING_MS, undefined);
  }

  /** Where a follower forwards to: the leader the database names, looked up again when unknown. */
  async leader(): Promise<Leader | null> {
    const role = this.current;
    if (role.kind === "leader") return null;
    if (role.leader) return role.leader;
    const leader = await this.options.lease.current().catch(() => null);
    if (this.current.kind === "follower") this.current = { kind: "follower", leader };
    return leader;
  }

  /** Forgets the leader a follower forwards to (it did not answer): the next request looks it up again. */
  forgetLeader(): void {
    if (this.current.kind === "follower") this.current = { kind: "follower", leader: null };
  }

  /**
   * Looks at the lease now rather than at the next tick: the leader said it handed the lease back (a NOTIFY on
   * `anvil_lease_released`). Only a hint: the look asks the database, as every tick does.
   */
  lookNow(): void {
    this.nudged = true;
    this.nudge();
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      const nudged = new Promise<void>((resolve) => (this.nudge = resolve));
      const runsOut = this.leaseRunsOutAt === null ? Infinity : this.leaseRunsOutAt - performance.now();
      this.leaseRunsOutAt = null;
      const waitMs = Math.max(0, Math.min(this.tickMs, runsOut));
      if (!this.nudged) await sleepUnless(waitMs, Promise.race([this.woken, nudged]));
      const told = this.nudged;
      this.nudged = false;
      if (this.stopping) break;
      // Not awaited: a write of the row held up (a lock, a slow database) must not hold up the lease's renewal.
      void this.beat();
      await (this.ticking = this.tick(told));
    }
  }

  /** Writes this server's row in `cluster_servers`, unless a write is under way already. */
  private beat(): Promise<void> {
    const { member, log } = this.options;
    if (!member) return Promise.resolve();
    return (this.beating ??= member
      .seen()
      .catch((error: unknown) => {
        // The lease's renewal says when the database is away; this says only that the list of servers is behind.
        log("could not record this server in cluster_servers", { error: databaseErrorText(error) }, "debug");
      })
      .finally(() => (this.beating = null)));
  }

  /** One look at the lease; `told`: prompted by a leader's word that it handed the lease back (see {@link lookNow}). */
  private async tick(told = false): Promise<void> {
    const { lease, log } = this.options;
    const role = this.current;
    if (role.kind === "leader") {
      // A renewal that hangs says nothing of itself: a lock held on the lease's row (this term's writes, stuck
      // behind a lock on a table) or a database that does not answer. Said once it took half the lease.
      const askedAt = performance.now();
      const slow = setTimeout(() => {
        this.renewFailures.failed(
          "the cluster lease's renewal is not answered: the database is slow, or a lock holds it up; another server takes over if it is not renewed within LEASE_MS",
          { epoch: role.epoch, waitedMs: performance.now() - askedAt, leaseMs: this.options.leaseMs },
        );
      }, this.options.leaseMs / 2);
      const renewed = await lease
        .renew(role.epoch)
        .catch((error: unknown) => {
          this.renewFailures.failed("could not renew the cluster lease", {
            epoch: role.epoch,
            error: databaseErrorText(error),
          });
          return null;
        })
        .finally(() => clearTimeout(slow));
      if (renewed === true) {
        this.renewedAt = performance.now();
        this.renewFailures.succeeded({ epoch: role.epoch });
      }
      // Unanswered (the database is away): go on. Nothing new can start meanwhile (every start is written first),
      // and if another server takes over, this term's late writes are refused and the next renewal says so.
      if (renewed !== false) return;
      await this.endTerm(role.epoch, "another server took over the lease");
      return;
    }
    if (this.leaving) return;
    const epoch = this.holdsOff() ? null : await lease.acquire().catch(() => null);
    if (epoch !== null && this.leaving) {
      // Won as this server stops: it gives the term back untouched rather than start leading only to drain.
      await lease.release(epoch).catch(() => undefined);
      return;
    }
    if (epoch === null) {
      // Unanswered (the database is away): the leader known goes on leading as far as this server can tell, and the
      // calls it forwards reach it, which answers them at once (503 while the database is away from it too). Forgot,
      // they would wait for an election that no one holds.
      const looked = await lease.current().then(
        (leader) => ({ leader }),
        () => null,
      );
      if (!looked) {
        this.databaseBack = "away";
        return;
      }
      if (this.databaseBack === "away") this.databaseBack = performance.now();
      // Its own lease, taken without hearing so: not a leader to forward to, and it takes the lease again next.
      const leader = looked.leader && lease.isOwn(looked.leader) ? null : looked.leader;
      // A few milliseconds after, so that the look finds it over (the two clocks tick alike; the read took a while).
      if (leader) this.leaseRunsOutAt = performance.now() + leader.expiresInMs + LOOK_AFTER_EXPIRY_MS;
      if (this.current.kind === "follower") this.current = { kind: "follower", leader };
      if (leader && leader.epoch !== this.seen?.epoch) this.sawLeader(leader);
      this.lookAtOwnUrl(leader);
      return;
    }
    this.current = { kind: "leader", epoch };
    this.ownUrl = null;
    this.renewedAt = performance.now();
    log("this server leads the cluster", {
      epoch,
      ...(this.seen ? { previousLeader: this.seen.url } : {}),
      ...(told ? { handedOver: true } : {}),
    });
    this.tookOver();
    this.ledBefore = true;
    try {
      await this.renewingWhile(epoch, () => this.options.lead(epoch));
    } catch (error) {
      await this.endTerm(epoch, `it could not start leading: ${databaseErrorText(error)}`);
      await lease.release(epoch).catch(() => undefined);
    }
  }

  /**
   * Whether this follower leaves a lease that ran out alone for now: the database was away from it, and may have been
   * away from the leader too (PostgreSQL restarting), whose lease then ran out though nobody could take it, and which
   * renews it as soon as it reaches the database again. Taken at the first look instead, the generations the leader
   * ran meanwhile would run again (`attempt` + 1). So it waits for its first answered look, then
   * {@link LOOKS_BEFORE_TAKING_OVER} more, in which that leader renews (four times per LEASE_MS); a leader that died
   * meanwhile is replaced that much later.
   */
  private holdsOff(): boolean {
    const back = this.databaseBack;
    if (back === null) return false;
    if (back === "away" || performance.now() - back < LOOKS_BEFORE_TAKING_OVER * this.tickMs) return true;
    this.databaseBack = null;
    return false;
  }

  /**
   * Runs `work` (term `epoch`'s start) while renewing the term's lease every tick: rebuilding a long line can take
   * longer than the lease, and a lease that ran out meanwhile was taken by the next server, whose own start then took
   * as long (no server ever got going). The renewals stop as soon as `work` is over (a lone server leads at once), a
   * renewal in flight awaited: one that landed after a release would hold the lease again.
   */
  private async renewingWhile(epoch: number, work: () => Promise<void>): Promise<void> {
    let working = true;
    let done = () => {};
    const over = new Promise<void>((resolve) => (done = resolve));
    const renewing = (async () => {
      while (working) {
        await sleepUnless(this.tickMs, over);
        if (working && (await this.options.lease.renew(epoch).catch(() => null))) this.renewedAt = performance.now();
      }
    })();
    try {
      await work();
    } finally {
      working = false;
      done();
      await renewing;
    }
  }

  /**
   * Whether another running server leads at this server's own CLUSTER_URL (see {@link lookAtOwnUrl}): every call this
   * server forwards comes back to itself, and it cannot take requests (`/healthz` says so).
   */
  get ownUrlTaken(): boolean {
    return this.ownUrl?.taken === true;
  }

  /** The leader at this server's own CLUSTER_URL, and since when this server has seen it lead. */
  private ownUrl: { holder: string; since: number; taken: boolean } | null = null;

  /**
   * A leader at this server's own CLUSTER_URL is an earlier run of it, killed before it gave the lease back, whose lease
   * runs out within LEASE_MS; one still leading a whole LEASE_MS (and a look) later renews it: another server runs
   * with this CLUSTER_URL, its own or this one's mistaken (a template copied to both). Said once, as an error.
   */
  private lookAtOwnUrl(leader: Leader | null): void {
    if (leader === null || !this.options.lease.atOwnUrl(leader)) {
      this.ownUrl = null;
      return;
    }
    const now = performance.now();
    if (this.ownUrl?.holder !== leader.holder) this.ownUrl = { holder: leader.holder, since: now, taken: false };
    const seen = this.ownUrl;
    if (seen.taken || now - seen.since <= this.options.leaseMs + this.tickMs) return;
    seen.taken = true;
    this.options.log(
      `another running server leads at this server's own CLUSTER_URL (${leader.url}): the calls this server forwards come back to itself, and it takes no requests until that server stops or one of the two is given the address where the other servers reach it`,
      { leader: leader.url, holder: leader.holder, epoch: leader.epoch },
      "error",
    );
  }

  /**
   * A leader this server had not seen yet (at start, or a new term): if it drives other GPUs than this server's
   * FORGE_URL names, say so. Servers of one cluster are meant to share one list; a different one is allowed (FORGE_URL
   * changed one server at a time), but the GPUs change with the leader, so it is never silent.
   */
  private sawLeader(leader: Leader): void {
    // At start the server's first line names its leader; after that, each new one is told here, so that every
    // server's log says who leads now (a follower forwards to it).
    const previous = this.ledBefore ? "this server" : this.seen?.url;
    if (previous !== undefined) {
      this.options.log("the cluster has a new leader: this server forwards to it", {
        leader: leader.url,
        epoch: leader.epoch,
        previousLeader: previous,
      });
    }
    this.seen = leader;
    this.ledBefore = false;
    void this.compareSignIn(leader);
    const secret = secretMismatch(
      this.options.lease.webhookSecretFingerprint,
      leader.webhookSecretFingerprint,
      "the leader",
    );
    if (secret) {
      this.options.log(
        secret,
        {
          leader: leader.url,
          epoch: leader.epoch,
          webhookSecretFingerprint: this.options.lease.webhookSecretFingerprint,
          leaderWebhookSecretFingerprint: leader.webhookSecretFingerprint,
        },
        "warn",
      );
    }
    const mine = this.options.lease.backends;
    if (mine === null || leader.backends === null) return;
    const differs = difference(mine, leader.backends);
    if (!differs) return;
    this.options.log(
      `this server's FORGE_URL differs from the leader's: the cluster runs on the leader's GPUs (${shown(leader.backends)}), ` +
        `and on this server's (${shown(mine)}) should this one lead; start every server of a cluster with the same FORGE_URL`,
      {
        leader: leader.url,
        epoch: leader.epoch,
        leaderBackends: leader.backends,
        backends: mine,
        onlyHere: differs.onlyHere,
        onlyOnLeader: differs.onlyThere,
      },
      "warn",
    );
  }

  /**
   * Whether the leader asks its callers to sign in as this server does: the leader answers every API call of the
   * cluster, so a leader without API_TOKEN or AUTH_PROXY_HEADER opens it to anyone who reaches it, and one with them
   * refuses callers this server lets in. Allowed while a setting is changed one server at a time, never silent.
   */
  private async compareSignIn(leader: Leader): Promise<void> {
    const { signInRequired, leaderRequiresSignIn = askSignInRequired } = this.options;
    if (signInRequired === undefined) return;
    const theirs = await leaderRequiresSignIn(leader.url);
    if (theirs === null || theirs === signInRequired) return;
    const advice = "start every server of a cluster with the same API_TOKEN and AUTH_PROXY_HEADER";
    this.options.log(
      theirs
        ? `this server asks for no sign-in (neither API_TOKEN nor AUTH_PROXY_HEADER is set) but the leader does: should this one lead, anyone could call the cluster's API without signing in; ${advice}`
        : `the leader asks for no sign-in but this server does: anyone who reaches the leader may call the cluster's API without signing in, and API_TOKEN is refused there; ${advice}`,
      { leader: leader.url, epoch: leader.epoch, signInRequired, leaderSignInRequired: theirs },
      "warn",
    );
  }

  /** This server took the lease: if the leader before it drove other GPUs, say that they changed. */
  private tookOver(): void {
    const before = this.seen;
    const mine = this.options.lease.backends;
    if (!before || before.backends === null || mine === null) return;
    const differs = difference(mine, before.backends);
    if (!differs) return;
    this.options.log(
      `the GPUs change with this leader: the previous one drove ${shown(before.backends)}, this one drives ` +
        `${shown(mine)} (its FORGE_URL differs); start every server of a cluster with the same FORGE_URL`,
      {
        previousLeader: before.url,
        previousBackends: before.backends,
        backends: mine,
        onlyHere: differs.onlyHere,
        onlyOnPrevious: differs.onlyThere,
      },
      "warn",
    );
  }

  private async endTerm(epoch: number, why: string): Promise<void> {
    this.current = { kind: "follower", leader: null };
    // Renewals that failed are over with the term: the line below says how it ended, not a renewal in a later term.
    this.renewFailures.over("the cluster lease is no longer renewed: this server's term ended", { epoch });
    this.options.log("this server no longer leads the cluster", { epoch, why }, "warn");
    await this.options.stepDown(epoch, why);
  }
}

import { FailureSpell } from "@anvil/api";
import type { LogHook } from "@anvil/api";
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
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Keeps this server's role true to the database. A follower tries to take the lease whenever nobody holds it; a
 * leader renews it four times per `leaseMs` and steps down as soon as the database says another server took over.
 * A leader cut off from the database cannot start anything (a start is written before it is acted on) and its
 * writes are fenced once another server leads; the next leader interrupts what it left running on a backend.
 */
export class ClusterRole {
  private current: Role = { kind: "follower", leader: null };
  private running: Promise<void> | null = null;
  private stopping = false;
  private readonly tickMs: number;
  /** Renewals that go unanswered while the database is away: said once, not four times per lease. */
  private readonly renewFailures: FailureSpell;

  constructor(private readonly options: ClusterRoleOptions) {
    this.tickMs = Math.max(50, Math.floor(options.leaseMs / 4));
    this.renewFailures = new FailureSpell(options.log, "the cluster lease is renewed again");
  }

  /** The role right now. */
  get role(): Role {
    return this.current;
  }

  /** Starts the loop; the first election happens before this resolves, so a lone server leads at once. */
  async start(): Promise<void> {
    await this.tick();
    this.running = this.loop();
  }

  /**
   * Leaves the cluster. A leader keeps renewing its lease while `drain` lets its running generations finish (no
   * other server may take them over meanwhile), then hands the lease back so another server takes over at once.
   */
  async stop(drain: () => Promise<void> = async () => undefined): Promise<void> {
    if (this.current.kind === "leader") await drain();
    this.stopping = true;
    await this.running;
    const role = this.current;
    if (role.kind === "leader") {
      await this.options.lease.release(role.epoch).catch(() => undefined);
      this.current = { kind: "follower", leader: null };
    }
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

  private async loop(): Promise<void> {
    while (!this.stopping) {
      await sleep(this.tickMs);
      if (!this.stopping) await this.tick();
    }
  }

  private async tick(): Promise<void> {
    const { lease, log } = this.options;
    const role = this.current;
    if (role.kind === "leader") {
      const renewed = await lease.renew(role.epoch).catch((error: unknown) => {
        this.renewFailures.failed("could not renew the cluster lease", { epoch: role.epoch, error: String(error) });
        return null;
      });
      if (renewed === true) this.renewFailures.succeeded({ epoch: role.epoch });
      // Unanswered (the database is away): go on. Nothing new can start meanwhile (every start is written first),
      // and if another server takes over, this term's late writes are refused and the next renewal says so.
      if (renewed !== false) return;
      await this.endTerm(role.epoch, "another server took over the lease");
      return;
    }
    const epoch = await lease.acquire().catch(() => null);
    if (epoch === null) {
      const leader = await lease.current().catch(() => null);
      if (this.current.kind === "follower") this.current = { kind: "follower", leader };
      return;
    }
    this.current = { kind: "leader", epoch };
    log("this server leads the cluster", { epoch });
    try {
      await this.options.lead(epoch);
    } catch (error) {
      await this.endTerm(epoch, `it could not start leading: ${String(error)}`);
      await lease.release(epoch).catch(() => undefined);
    }
  }

  private async endTerm(epoch: number, why: string): Promise<void> {
    this.current = { kind: "follower", leader: null };
    this.options.log("this server no longer leads the cluster", { epoch, why }, "warn");
    await this.options.stepDown(epoch, why);
  }
}

import type { LogHook } from "@anvil/api";
import { NO_LONGER_LEADS, openTo } from "./leader-proxy";
import type { LeaderLookup } from "./leader-proxy";

/** A follower's way to the leader, and whether it has lost it. */
export interface LeaderLink {
  /** How the calls and WebSocket upgrades a follower forwards find the leader, across a failover too. */
  lookup: Omit<LeaderLookup, "maxBodyBytes">;
  /**
   * Whether the leader has not been reached for longer than a failover takes, and still cannot be (for readiness): a
   * leader whose CLUSTER_URL does not lead to it leaves every follower's calls failing.
   */
  unreachable(): Promise<boolean>;
}

/**
 * Finds the leader through `leaderUrl` (this server's own URL once it leads) and `cluster` (the server that holds the
 * cluster's lease, as the database says). A leader that cannot be reached is said once in the log, and again once it
 * is reached.
 */
export function leaderLink(options: {
  leaderUrl: () => Promise<string | undefined>;
  /** The URL of the server that holds the lease now, read from the database. */
  cluster: () => Promise<string | undefined>;
  forgetLeader: () => void;
  leaseMs: number;
  log: LogHook;
}): LeaderLink {
  const { cluster, log } = options;
  // A failover: the old leader's lease runs out, then the next one is elected; and some to spare.
  const waitMs = options.leaseMs * 2 + 5_000;
  let missed: { leader: string; since: number } | null = null;
  return {
    lookup: {
      leaderUrl: options.leaderUrl,
      forgetLeader: options.forgetLeader,
      waitMs,
      callKeys: new Map(),
      tried: (leader, why, since) => {
        if (why === null) {
          if (missed) log("this server reaches the leader again", { leader });
          missed = null;
        } else if (missed?.leader !== leader) {
          // Since the call began to look for it: one that gave up after waiting a failover's time makes it that long.
          missed = { leader, since };
          // It answered, so it is where its CLUSTER_URL says: a hand-over or an election, which every rolling restart
          // goes through, is no fault to warn of.
          if (why.endsWith(NO_LONGER_LEADS)) {
            log(
              `the server this server forwards to ${NO_LONGER_LEADS}: the calls it forwards wait for the next leader`,
              {
                leader,
              },
            );
            return;
          }
          log(
            `this server cannot reach the leader (${why}): the calls it forwards wait for it, and fail if it stays away; it may have stopped (then another server leads within LEASE_MS), or, if it runs, its CLUSTER_URL is not where the other servers reach it`,
            { leader },
            "warn",
          );
        }
      },
    },
    unreachable: async () => {
      const seen = missed;
      if (seen === null || performance.now() - seen.since < waitMs) return false;
      // Looked at again, not taken from the last forwarded call: a load balancer that stopped sending calls here
      // would otherwise never see this server ready again.
      const leader = await cluster();
      if (leader === seen.leader) {
        const socket = await openTo(new URL(leader));
        if (socket === null) return true;
        socket.destroy();
      }
      if (missed === seen) missed = null;
      return false;
    },
  };
}

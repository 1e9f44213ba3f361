import type { Context } from "../context";
import { adminProcedure, router } from "../trpc";
import { noInput } from "../schemas";

/** A server of the cluster as `cluster.servers` answers it. */
export interface ClusterServerView {
  /** Where the other servers reach it (CLUSTER_URL). */
  url: string;
  /** Anvil's version it runs. */
  version: string;
  /** ISO 8601, on the database's clock. */
  startedAt: string;
  lastSeenAt: string;
  /** It holds the cluster's lease: it drives the GPUs. */
  leader: boolean;
  /** It answered this call. */
  self: boolean;
  /** It was asked to stop (SIGTERM, SIGINT): a leader finishes its generations first, then hands over. */
  stopping: boolean;
  /** It was seen within its LEASE_MS and a half: false for one killed or cut off, listed until three have gone by. */
  answering: boolean;
}

/** Who answers `cluster.servers`: the servers of the cluster, or on the embedded database this one alone. */
export type ClusterServersSource = () => Promise<ClusterServerView[]>;

const servers = async (ctx: Context) => ({ servers: ctx.clusterServers ? await ctx.clusterServers() : [] });

/**
 * `cluster.*`: the servers one Anvil is made of (admins). Answered by the server asked, from the database: a
 * follower does not forward it to the leader.
 */
export const clusterRouter = router({
  servers: adminProcedure.input(noInput).query(({ ctx }) => servers(ctx)),
});

import type { ServerResponse } from "node:http";
import { databaseAvailable } from "@anvil/api";
import type { DatabaseCheck } from "@anvil/api";

/** What `/healthz` says: whether this server can take requests now, and why not. */
export interface Readiness {
  ok: boolean;
  /** `single`: the embedded database (one server); `leader` / `follower`: a server of a cluster. */
  role: "single" | "leader" | "follower";
  /**
   * `down` when this server's database did not answer a query within `DATABASE_CHECK_DEADLINE_MS`, or when it
   * answers but refuses this server's writes (its disk is full, say: reads go on, every submission is refused).
   */
  database: "up" | "down";
  /** A SIGTERM came: the server finishes what runs and takes no new work; send requests elsewhere. */
  stopping: boolean;
  /**
   * A follower that has not reached the leader for longer than a failover takes (the leader's CLUSTER_URL does not
   * lead here, say): every call it forwards fails. Absent otherwise.
   */
  leader?: "unreachable";
}

/** Where the answer comes from: the server's own state, read at each request. */
export interface ReadinessSources extends DatabaseCheck {
  role: () => Readiness["role"];
  stopping: () => boolean;
  /** Whether this follower has failed to reach the leader for longer than a failover takes, and still does. */
  leaderUnreachable?: () => Promise<boolean>;
}

/**
 * This server's readiness, for a load balancer or an orchestrator (`/healthz`): ready while its database answers
 * and takes its writes, and it is not stopping. Backends are not part of it: jobs wait for a backend that is away,
 * and every server of a cluster takes requests whichever server drives the GPUs (`health` and `queue.status` tell
 * the backends).
 */
export async function readiness(sources: ReadinessSources): Promise<Readiness> {
  const up = await databaseAvailable(sources);
  const stopping = sources.stopping();
  const role = sources.role();
  const cutOff = role === "follower" && (await sources.leaderUnreachable?.()) === true;
  return {
    ok: up && !stopping && !cutOff,
    role,
    database: up ? "up" : "down",
    stopping,
    ...(cutOff ? { leader: "unreachable" as const } : {}),
  };
}

/** Answers `/healthz`: 200 when ready, 503 when not, never cached. */
export const answerReadiness = (res: ServerResponse, state: Readiness): void => {
  res
    .writeHead(state.ok ? 200 : 503, {
      "content-type": "application/json",
      "cache-control": "no-store",
      ...(state.ok ? {} : { "retry-after": "1" }),
    })
    .end(JSON.stringify(state));
};

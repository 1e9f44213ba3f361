import type { ServerResponse } from "node:http";
import { settleWithin } from "./settle-within";

/** How long `/healthz` waits for the database to answer before it says the database is down. */
export const READINESS_DEADLINE_MS = 2_000;

/** What `/healthz` says: whether this server can take requests now, and why not. */
export interface Readiness {
  ok: boolean;
  /** `single`: the embedded database (one server); `leader` / `follower`: a server of a cluster. */
  role: "single" | "leader" | "follower";
  /**
   * `down` when this server's database did not answer a query within {@link READINESS_DEADLINE_MS}, or when it
   * answers but refuses this server's writes (its disk is full, say: reads go on, every submission is refused).
   */
  database: "up" | "down";
  /** A SIGTERM came: the server finishes what runs and takes no new work; send requests elsewhere. */
  stopping: boolean;
}

/** Where the answer comes from: the server's own state, read at each request. */
export interface ReadinessSources {
  /** Whether the server's database answers and takes writes (a read: false while it is read-only). */
  takesWrites: () => Promise<boolean>;
  /** Whether this server's last writes failed and it is retrying them (the leader's journal; never on a follower). */
  writesFailing?: () => boolean;
  role: () => Readiness["role"];
  stopping: () => boolean;
  deadlineMs?: number;
}

/**
 * This server's readiness, for a load balancer or an orchestrator (`/healthz`): ready while its database answers
 * and takes its writes, and it is not stopping. Backends are not part of it: jobs wait for a backend that is away,
 * and every server of a cluster takes requests whichever server drives the GPUs (`health` and `queue.status` tell
 * the backends).
 */
export async function readiness(sources: ReadinessSources): Promise<Readiness> {
  const answered = sources.takesWrites().then(
    (writable) => writable,
    () => false,
  );
  const up =
    (await settleWithin(answered, sources.deadlineMs ?? READINESS_DEADLINE_MS, false)) &&
    !(sources.writesFailing?.() ?? false);
  const stopping = sources.stopping();
  return { ok: up && !stopping, role: sources.role(), database: up ? "up" : "down", stopping };
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

import type { JobStore, UserStore } from "@anvil/persistence";
import type { Caller } from "./caller";
import type { ClusterServersSource } from "./routers/cluster";
import type { EventHub } from "./event-hub";
import type { Inspector } from "./inspection/inspector";
import type { JobService } from "./job-service";
import type { ListBudget } from "./list-budget";
import type { SubscriptionSlots } from "./subscription-slots";

/** What every procedure gets: the service, the store and the event hub, never module singletons. */
export interface Context {
  /** Who is calling (authenticated before the call reaches a procedure). */
  user: Caller;
  service: JobService;
  store: JobStore;
  /** Users and their sessions, behind `users.*`. */
  users: UserStore;
  events: EventHub;
  database: "pglite" | "postgres";
  /** How long a subscription may wait before its pending position and progress changes are sent. */
  coalesceMs?: number;
  /** The XState inspection ring behind `debug.*`; null or absent when inspection is off. */
  inspector?: Inspector | null;
  /** The servers of the cluster, for `cluster.servers`; absent: none known (the call answers an empty list). */
  clusterServers?: ClusterServersSource;
  /**
   * The id a follower gave the HTTP call it forwarded here (`x-anvil-call-id`): the default idempotency key of the
   * call's submissions (see call-keys.ts), so that the follower may send it to the next leader should this one go
   * away before it answers. Absent on calls made here directly, and over a WebSocket.
   */
  callId?: string;
  /** A WebSocket connection's bound on open subscriptions; absent over HTTP (each SSE stream is its own request). */
  subscriptions?: SubscriptionSlots;
  /** A WebSocket connection's bound on the jobs its `jobs.list` calls ask for at once; absent over HTTP (see list-budget.ts). */
  listBudget?: ListBudget;
}

import type { JobStore } from "@anvil/persistence";
import type { EventHub } from "./event-hub";
import type { Inspector } from "./inspection/inspector";
import type { JobService } from "./job-service";

/** What every procedure gets: the service, the store and the event hub, never module singletons. */
export interface Context {
  service: JobService;
  store: JobStore;
  events: EventHub;
  database: "pglite" | "postgres";
  /** How long a subscription may wait before its pending position and progress changes are sent. */
  coalesceMs?: number;
  /** The XState inspection ring behind `debug.*`; null or absent when inspection is off. */
  inspector?: Inspector | null;
}

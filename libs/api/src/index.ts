export { appRouter } from "./router";
export type { AppRouter } from "./router";
export type { Context } from "./context";
export { EventHub } from "./event-hub";
export type { HubMessage } from "./event-hub";
export { JobService, MAX_ATTEMPTS } from "./job-service";
export type { JobServiceOptions } from "./job-service";
export { imageUrlOf } from "./generate";
export { Conflict, HistoryGone, Invalid, NotFound, Unavailable } from "./errors";

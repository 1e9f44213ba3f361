export { appRouter } from "./router";
export { MAX_BATCH_CALLS, MAX_BODY_BYTES, MAX_BULK_BODY_BYTES } from "./trpc";
export type { AppRouter } from "./router";
export { ADMIN_NAME, LOCAL_USER, mayAccess, RESERVED_NAMES, USER_NAME, USER_NAME_RULE } from "./caller";
export { newSecret, sha256 } from "./tokens";
export type { Caller } from "./caller";
export type { Context } from "./context";
export { endsAccess, EventHub } from "./event-hub";
export type { HubMessage } from "./event-hub";
export { JobService, MAX_ATTEMPTS } from "./job-service";
export { DATABASE_CHECK_DEADLINE_MS, databaseAvailable } from "./database-available";
export type { DatabaseCheck } from "./database-available";
export type { JobServiceOptions, JobServiceSettings } from "./service-wiring";
export { failureReason, imageUrlOf } from "./generate";
export type { GenerationFailure } from "./generate";
export { Conflict, HistoryGone, Invalid, NotFound, TooMany, Unavailable, UserGone } from "./errors";
export { SubscriptionSlots } from "./subscription-slots";
export { UserRemovals } from "./user-removals";
export { ListBudget } from "./list-budget";
export { MAX_LINE_CHANGES } from "./line-events";
export { Inspector } from "./inspection/inspector";
export type { InspectedState, InspectionRecord, InspectionType } from "./inspection/record";
export type { Json } from "./inspection/summary";
export type { ActorsDebugView, BlockedReason, SchedulerDebugView } from "./inspection/views";
export type { DispatchRecord } from "./inspection/dispatch-log";
export { INSPECTION_OFF } from "./routers/debug";
export type { ClusterServersSource, ClusterServerView } from "./routers/cluster";
export type { JobServiceObserver, ObservedTransition } from "./job-observer";
export { openApiDocument } from "./openapi/openapi";
export { linkedSignal } from "./linked-signal";
export { settleWithin } from "./settle-within";
export { FailureSpell } from "./log-hook";
export type { LogHook, LogLevel } from "./log-hook";
export {
  DEFAULT_WEBHOOK_RETRY,
  RECEIVER_REFUSED,
  retryDelay,
  signWebhook,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_REFUSED_HEADER,
  WEBHOOK_TIMEOUT_MS,
  WebhookDispatcher,
} from "./webhook-dispatcher";
export type { DeliveryOutcome, WebhookDispatcherOptions, WebhookRetry } from "./webhook-dispatcher";

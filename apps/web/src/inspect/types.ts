import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@anvil/api";

type Debug = inferRouterOutputs<AppRouter>["debug"];

/** A machine's statechart as `debug.chart` sends it, read from the machine definition. */
export type Chart = Debug["chart"]["imageJob"];
/** One state of a chart. */
export type ChartState = Chart["states"][number];
/** One transition of a chart. */
export type ChartTransition = Chart["transitions"][number];
/** Both charts: the image job's and the scheduler's. */
export type Charts = Debug["chart"];
/** Whether the server inspects, and its ring's bounds. */
export type InspectionStatus = Debug["status"];
/** The scheduler's line and GPUs (`debug.scheduler`). */
export type SchedulerView = Debug["scheduler"];
/** The scheduler and the job actors (`debug.actors`). */
export type ActorsView = Debug["actors"];
/** A live job actor. */
export type AliveActor = ActorsView["alive"][number];
/** A job actor that ended and is still in the inspection ring. */
export type FinishedActor = ActorsView["finished"][number];
/** A job's kept inspection events (`debug.timeline`). */
export type Timeline = Debug["timeline"];
/** One inspection event, as `debug.timeline` and `debug.inspect` send it. */
export type InspectionRecord = Timeline["events"][number];
/** A server of the cluster (`cluster.servers`). */
export type ClusterServer = inferRouterOutputs<AppRouter>["cluster"]["servers"]["servers"][number];

export * from "./job";
export { HELD_START_MS, imageJobMachine, describeFailure } from "./image-job.machine";
export type {
  ImageJobInput,
  ImageJobContext,
  ImageJobEvent,
  ImageJobOutput,
  GenerateActorInput,
  ImageJobActorInput,
  ImageJobReport,
  ImageJobSummary,
} from "./image-job.machine";
export { schedulerMachine } from "./scheduler.machine";
export type {
  BackendSlot,
  DispatchDecision,
  ImageJobActor,
  JobTransition,
  SchedulerContext,
  SchedulerEvent,
  SchedulerInput,
} from "./scheduler.machine";
export { schedulerCounts } from "./scheduler-counts";
export type { SchedulerCounts } from "./scheduler-counts";
export { defaultRuntime, makeEffectRuntime } from "./effect-runtime";
export type { EffectRuntime } from "./effect-runtime";
export { GpuPool } from "./gpu-pool";
export type { GpuPoolService, GpuSlot } from "./gpu-pool";
export { OrderedQueue } from "./ordered-queue";
export { FairLine } from "./fair-line";
export type { AffinityLimits, LineEntry, LineShift, PlaceChange, SchedulingMode, TurnPick } from "./fair-line";
export { chooseDispatch, DEFAULT_AFFINITY, modelName, modelOf } from "./affinity";
export type { DispatchChoice, DispatchKind, ModelSlot } from "./affinity";
export { DatabaseUnreachable, Journal, LaneAbandoned, UNSTORABLE_RESULT_MESSAGE, WriteRejected } from "./journal";
export type { JournalEntry, JournalOptions, JournalWriteError } from "./journal";
export { GenerationTimedOut, JobScheduler } from "./job-scheduler";
export type { JobSchedulerOptions, GenerateProgram, KeepProgram, JobView, QueueSnapshot } from "./job-scheduler";
export { chartOf } from "./chart";
export type { Chart, ChartState, ChartTransition } from "./chart";
export { applyLineEvent, toLineChanges } from "./line-change";
export { GpuTimeModel, measureRun } from "./gpu-time";
export type { GpuRun, GpuTimeModelOptions, GpuWork } from "./gpu-time";
export { LineProjector, projectLine } from "./projection";
export type { BackendState, JobEstimate, Projection, ProjectionInput, RunningWork, WaitingWork } from "./projection";
export { applyLineTiming, placeFromTiming, toLineTiming } from "./line-timing";
export type { HeldEstimates, LineTiming } from "./line-timing";
export type { LineChange, LineChangeListener, LineEvent, LineEventChange } from "./line-change";

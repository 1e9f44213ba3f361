import type { Snapshot, SnapshotFrom } from "xstate";
import { schedulerMachine } from "./scheduler.machine";

/** The scheduler at a glance (a type, not an interface: inspection keeps it as a plain record). */
export type SchedulerCounts = {
  /** False once the scheduler is stopping. */
  dispatching: boolean;
  /** Jobs waiting in the line. */
  queued: number;
  /** Backends assigned a job. */
  running: number;
  healthyBackends: number;
  /** Job actors alive: the jobs started and not yet ended. */
  jobs: number;
};

const isSchedulerSnapshot = (snapshot: Snapshot<unknown>): snapshot is SnapshotFrom<typeof schedulerMachine> =>
  "machine" in snapshot &&
  (snapshot as { machine?: { id?: unknown } }).machine?.id === schedulerMachine.id &&
  "context" in snapshot;

/**
 * The counts of a scheduler snapshot (undefined for any other actor's): what inspection keeps of the scheduler, whose
 * context is large and changes in place, so that a copy of it would not show the state at the time.
 */
export function schedulerCounts(snapshot: Snapshot<unknown>): SchedulerCounts | undefined {
  if (!isSchedulerSnapshot(snapshot)) return undefined;
  const { backends, dispatching, queue, jobs } = snapshot.context;
  let running = 0;
  let healthyBackends = 0;
  for (const slot of backends) {
    if (slot.jobId !== null) running++;
    if (slot.healthy) healthyBackends++;
  }
  return { dispatching, queued: queue.size, running, healthyBackends, jobs: jobs.size };
}

import type { AffinityLimits, FairLine } from "./fair-line";
import type { JobParams } from "./job";
import { modelKey } from "./model-name";
export { modelName } from "./model-name";

/** InvokeAI's reach (the owner's next 32 jobs), and a job passed over 3 times goes next. */
export const DEFAULT_AFFINITY: AffinityLimits = { limit: 32, bound: 3 };

/**
 * The model a job needs loaded: its checkpoint with the modules loaded beside it (Forge reloads when either
 * changes), as {@link modelKey} names it; null for a job without a checkpoint, which takes whatever is loaded.
 */
export const modelOf = (params: Pick<JobParams, "checkpoint" | "modules">): string | null =>
  params.checkpoint === null ? null : modelKey(params.checkpoint, params.modules);

/** Why a job got a backend: its owner's turn, model affinity, an admin's move, a run again, or FIFO order. */
export type DispatchKind = "turn" | "affinity" | "front" | "again" | "fifo";

/** Which job starts next on which free backend. */
export interface DispatchChoice {
  jobId: string;
  backend: number;
  kind: DispatchKind;
  /** How many of the owner's jobs ahead of it model affinity passed over (0 unless `kind` is "affinity"). */
  passedOver: number;
}

/** What the choice needs to know of a backend. */
export interface ModelSlot {
  healthy: boolean;
  jobId: string | null;
  /** The model loaded there as far as known; null when unknown. */
  model: string | null;
}

/**
 * The next start, or undefined when no backend is free or nothing waits. The first job in line goes to a free
 * backend that has its model loaded, if there is one. Otherwise, with `affinity`, a free backend whose model is
 * known may take one of the turn owner's next jobs that needs that model or none (see `FairLine.peekTurn`);
 * failing that, the first job in line goes to the first free backend, which loads its model.
 */
export function chooseDispatch(
  line: FairLine,
  slots: readonly ModelSlot[],
  affinity: AffinityLimits | null,
): DispatchChoice | undefined {
  const free = slots.flatMap((slot, i) => (slot.healthy && slot.jobId === null ? [i] : []));
  const head = line.peek();
  const first = free[0];
  if (first === undefined || head === undefined) return undefined;
  const entry = line.entry(head);
  const wanted = entry?.model ?? null;
  const kind: DispatchKind = line.ahead(head)
    ? entry?.front != null
      ? "front"
      : "again"
    : line.mode === "fifo"
      ? "fifo"
      : "turn";
  const loaded = free.find((i) => wanted === null || slots[i]?.model === wanted);
  if (loaded !== undefined) return { jobId: head, backend: loaded, kind, passedOver: 0 };
  if (affinity) {
    for (const backend of free) {
      const model = slots[backend]?.model ?? null;
      if (model === null) continue;
      const pick = line.peekTurn(affinity, (other) => other.model == null || other.model === model);
      if (pick) return { jobId: pick.jobId, backend, kind: "affinity", passedOver: pick.passedOver };
    }
  }
  return { jobId: head, backend: first, kind, passedOver: 0 };
}

import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { Job, JobStatus, PlaceChange } from "@anvil/job-machine";
import { sql } from "drizzle-orm";
import { rowsOf } from "./database";
import type { AnvilDb } from "./database";
import { fencedOr } from "./leader-lease";
import type { WriteFence } from "./leader-lease";
import { jobRowOf, toJobRecord } from "./records";
import { isUuid } from "./sql-guards";
import { storedProgress } from "./transitions";
import type { RowChangeResult, TransitionPatch } from "./transitions";

/**
 * A journal's status change, progress value, or (`fifo`) the places waiting jobs bring after a move; the snapshot a
 * status change logs is `toJob(record, 0)`. A status change's `places` are written in its commit, whether or not its
 * row matched (they are the line's, and setting them again changes nothing).
 */
export type JournalChange =
  | {
      kind: "transition";
      jobId: string;
      from: JobStatus;
      to: JobStatus;
      patch: TransitionPatch;
      places?: PlaceChange[];
    }
  | { kind: "progress"; jobId: string; progress: number }
  | { kind: "places"; jobId: string; places: PlaceChange[] };

/** One element of `anvil_apply_changes`'s `changes` (drizzle/0009_apply_changes.sql). */
interface ChangeRow {
  kind: JournalChange["kind"];
  job_id: string;
  /** A status change: the status the row must be in, and the one it goes to. */
  from_status?: JobStatus;
  to_status?: JobStatus;
  /** A status change: the columns it sets besides the status, by `TransitionPatch` key; absent keys are kept. */
  patch?: TransitionPatch;
  /** A progress value: whole percent, 0..100. */
  progress?: number;
  /** Waiting jobs' places (`fifo`): each job's new `fifo_place`, null for its own seq. */
  places?: { job_id: string; place: number | null }[];
}

const defaults = JSON.stringify(DEFAULT_JOB_PARAMS);

/**
 * Applies a journal batch with one call of `anvil_apply_changes`: one round trip and one commit, all of it or none.
 * Each change gets its result in the order given, as `applyChangesLocked` (transitions.ts) gives it; a change whose
 * row is not in the status it expects (or not a job at all) gets none. With a `fence`, the batch lands only while
 * its term lasts, or fails with {@link Fenced}.
 */
export async function applyChangesAtOnce(
  db: AnvilDb,
  changes: readonly JournalChange[],
  fence: Pick<WriteFence, "holder" | "epoch"> | null,
): Promise<RowChangeResult[]> {
  const sent: ChangeRow[] = [];
  // Where each change went in `sent` (the function numbers them from 1), or -1 when it cannot name a job.
  const index = changes.map((change) => {
    if (!isUuid(change.jobId)) return -1;
    sent.push(changeRow(change));
    return sent.length;
  });
  const byNumber = new Map<number, RowChangeResult>();
  if (sent.length > 0) {
    let rows;
    try {
      // Its own statement, outside any explicit transaction. `(stored).*` is the `jobs` row: in a rolling upgrade
      // across 0019, PostgreSQL's log showed an older server's prepared statement refused once ("cached plan must not
      // change result type"), which postgres.js answers by preparing it again and retrying, unseen by the server.
      // Inside a transaction that first error would abort it, and the retry with it.
      rows = rowsOf(
        await db.execute(
          sql`select n, event_id, snapshot, (stored).* from anvil_apply_changes(${JSON.stringify(sent)}::jsonb, ${defaults}::jsonb, ${fence?.holder ?? null}::text, ${fence?.epoch ?? null}::bigint)`,
        ),
      );
    } catch (error) {
      throw fencedOr(error, fence);
    }
    for (const row of rows) {
      const n = Number(row["n"]);
      const job = toJobRecord(jobRowOf(row));
      const kind = sent[n - 1]?.kind;
      if (kind === "places") continue;
      byNumber.set(
        n,
        kind === "progress"
          ? { kind, job }
          : {
              kind: "transition",
              applied: { job, eventId: Number(row["event_id"]), snapshot: parseJson(row["snapshot"]) as Job },
            },
      );
    }
  }
  return changes.map((change, i) => byNumber.get(index[i] ?? -1) ?? nothingMatched(change));
}

/** `change` as `anvil_apply_changes` reads it. */
const changeRow = (change: JournalChange): ChangeRow => {
  switch (change.kind) {
    case "progress":
      return { kind: "progress", job_id: change.jobId, progress: storedProgress(change.progress) };
    case "places":
      return { kind: "places", job_id: change.jobId, places: placeRows(change.places) };
    case "transition":
      return {
        kind: "transition",
        job_id: change.jobId,
        from_status: change.from,
        to_status: change.to,
        patch: change.patch,
        ...(change.places ? { places: placeRows(change.places) } : {}),
      };
  }
};

/** Only jobs by their id: a place for anything else could not name a row. */
const placeRows = (places: readonly PlaceChange[]): NonNullable<ChangeRow["places"]> =>
  places.filter((p) => isUuid(p.jobId)).map((p) => ({ job_id: p.jobId, place: p.place }));

/** What a change whose row did not match (or that returns none, as places) got. */
const nothingMatched = (change: JournalChange): RowChangeResult => {
  switch (change.kind) {
    case "progress":
      return { kind: "progress", job: null };
    case "places":
      return { kind: "places" };
    case "transition":
      return { kind: "transition", applied: null };
  }
};

/** A jsonb value as a driver hands it over: parsed already (postgres.js, PGlite), or as text. */
const parseJson = (value: unknown): unknown => (typeof value === "string" ? JSON.parse(value) : value);

import { and, eq, isNotNull, max, sql } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { toJobRecord } from "./records";
import type { JobRecord } from "./records";
import { jobs, lineMoves, queueControl } from "./schema";

/** What a new leader needs, besides the waiting jobs, to rebuild the line exactly: the turns and the pause. */
export interface LineState {
  /** Each owner's last turn (the largest `turn` of its jobs). */
  served: [string, number][];
  paused: boolean;
}

/** Where `jobs.move` puts a job: within its owner's jobs, or (an admin's) ahead of the whole line. */
export type LineMove = "front" | "back" | "global";

/** The turns and the pause as persisted. */
export async function lineState(db: AnvilDb): Promise<LineState> {
  const turns = await db
    .select({ owner: jobs.owner, turn: max(jobs.turn) })
    .from(jobs)
    .where(isNotNull(jobs.turn))
    .groupBy(jobs.owner);
  const [control] = await db.select({ paused: queueControl.paused }).from(queueControl).where(eq(queueControl.id, 1));
  return {
    served: turns.flatMap(({ owner, turn }) => (turn === null ? [] : [[owner, Number(turn)] as [string, number]])),
    paused: control?.paused ?? false,
  };
}

/** Pauses or resumes the queue, persisted before the scheduler acts on it. */
export async function setPaused(db: AnvilDb, paused: boolean): Promise<void> {
  await db
    .insert(queueControl)
    .values({ id: 1, paused })
    .onConflictDoUpdate({ target: queueControl.id, set: { paused } });
}

/**
 * A job that goes ahead of all from among its owner's jobs leaves them (SCHEDULING=fifo): its place is kept, its own
 * seq if it brought none, until the line writes the places it handed on and its own as null. A new leader that finds
 * one still kept (the last one went before) moves it again from among its owner's jobs (`Recovery.rebuildLine`). One
 * ahead of all already (moved there before, or waiting again: it ran, and has no move) leaves none, and keeps its own.
 */
const leavingPlace = sql`case when ${jobs.lineFront} is null and (${jobs.attempts} = 0 or ${jobs.lineMove} is not null)
  then coalesce(${jobs.fifoPlace}, ${jobs.seq}) else ${jobs.fifoPlace} end`;

/**
 * Records a move of a queued job, numbered from one sequence (later moves win, across a cluster), and who moved it
 * (`by`, its `movedBy`); null when the job is not queued (any more).
 */
export async function moveJob(db: AnvilDb, jobId: string, to: LineMove, by: string): Promise<JobRecord | null> {
  const next = sql`nextval('${sql.raw(lineMoves.seqName ?? "line_moves")}')`;
  const set =
    to === "global"
      ? { lineFront: sql`${next}`, fifoPlace: leavingPlace }
      : { lineMove: to === "front" ? sql`-${next}` : sql`${next}`, lineFront: null };
  const [row] = await db
    .update(jobs)
    .set({ ...set, movedBy: by })
    .where(and(eq(jobs.id, jobId), eq(jobs.status, "queued")))
    .returning();
  return row ? toJobRecord(row) : null;
}

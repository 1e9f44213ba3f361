import { isFinalStatus } from "@anvil/job-machine";
import type { Job, LineEvent } from "@anvil/job-machine";
import type { JobRecord } from "@anvil/persistence";
import { tracked } from "@trpc/server";
import type { TrackedEnvelope } from "@trpc/server";
import type { Context } from "./context";
import { mayAccess } from "./caller";
import { FellBehind, HistoryGone } from "./errors";
import { FanOut } from "./fan-out";
import { endsAccess } from "./event-hub";
import type { EventHub, HubMessage } from "./event-hub";
import { Inbox } from "./inbox";
import { PendingLine } from "./line-events";
import { jobNotFound, ownConversation, ownerOf } from "./ownership";

/** Which jobs a subscription watches, and where it resumes. */
export interface JobStreamInput {
  jobId?: string | undefined;
  conversationId?: string | undefined;
  lastEventId?: string | null | undefined;
}

const REPLAY_PAGE = 500;
/**
 * How many of the hub's messages a subscription may leave unread (its client reads nothing: its socket is full, so
 * the stream waits). Past that it ends, and holds nothing more; the client resumes from its last event id.
 */
export const MAX_UNREAD = 10_000;
/** Every subscription is woken through one fan-out: a change reaches a crowd a slice per turn (see fan-out.ts). */
const FAN_OUT = new FanOut();
const DEFAULT_COALESCE_MS = 100;

/** What this subscriber was last sent of a job. */
interface Sent {
  statusEventId: number;
  status: Job["status"];
  queuePosition: number;
  progress: number;
  estimatedStartAt: string | null;
  estimatedFinishAt: string | null;
  movedBy: string | null;
}

/** An estimate that moved less than this since it was last sent is not worth a snapshot of its own. */
const ESTIMATE_SLACK_MS = 1_000;

const shifted = (now: string | null, sent: string | null): boolean =>
  now === null || sent === null ? now !== sent : Math.abs(Date.parse(now) - Date.parse(sent)) >= ESTIMATE_SLACK_MS;

/** Whether a job's position, progress or estimates (by a second or more) differ from what was last sent of it. */
const moved = (job: Job, last: Sent): boolean =>
  job.queuePosition !== last.queuePosition ||
  job.progress !== last.progress ||
  shifted(job.estimatedStartAt, last.estimatedStartAt) ||
  shifted(job.estimatedFinishAt, last.estimatedFinishAt) ||
  job.movedBy !== last.movedBy;

/** What `jobs.events` sends: job snapshots, and without a `jobId` filter compact line events. */
export type JobStreamEvent = Job | LineEvent;

/**
 * `jobs.events`: replays every status change after `lastEventId` from the event log, then the current
 * snapshot of each watched job, then live events. The live feed is subscribed before anything is read,
 * so nothing falls between the catch-up and the live part, and each job's status events are deduplicated
 * by event id, so nothing is sent twice. Progress changes are coalesced per subscriber.
 *
 * Positions: with a `jobId` filter, a position change is a coalesced snapshot. Without one, changes of the line
 * are folded per subscriber into one compact {@link LineEvent} (O(1) per change whatever the number of waiting
 * jobs), sent within one coalescing window and always just before any snapshot, so a snapshot's `queuePosition`
 * is at the version of the last line event before it. An unfiltered subscription without `lastEventId` starts with
 * live events only (a job already running is sent with its next progress, a waiting one when it is moved): the
 * current state of every job is what `jobs.list` is for.
 *
 * Event ids: a status change is sent as its log id ("42"); any other event as "<last log id>.<n>", which
 * resumes from the same place. After a resume they come after the cursor given (compared part by part, as whole
 * numbers: "42.10" after "42.9"): `n` goes on from the cursor's.
 */
export async function* jobEventStream(
  ctx: Context,
  input: JobStreamInput,
  signal: AbortSignal | undefined,
): AsyncGenerator<TrackedEnvelope<JobStreamEvent>> {
  const { store, service, events } = ctx;
  const coalesceMs = ctx.coalesceMs ?? DEFAULT_COALESCE_MS;
  // A user is sent only their own jobs' events (an admin everyone's): another user's job is never named.
  const matches = (job: Job | JobRecord) =>
    (!input.jobId || job.id === input.jobId) &&
    (!input.conversationId || job.conversationId === input.conversationId) &&
    mayAccess(ctx.user, ownerOf(job));
  const inbox = new Inbox<HubMessage>(signal, FAN_OUT, MAX_UNREAD);
  // Without a jobId the line's changes are folded here as they come, never queued one by one.
  const line = input.jobId ? null : new PendingLine(service.lineVersion);
  // Folded line changes go out with the next snapshot, or when the window that began at the first of them ends.
  const ticker = line ? lineTicker(events, coalesceMs) : null;
  let lineDue = false;
  const lineWindowEnded = () => {
    if (!line || line.empty) return;
    lineDue = true;
    inbox.wakeUp();
  };
  const unsubscribe = events.subscribe((message) => {
    // Another's job, or one outside the filter, is never sent: it is not kept for an idle reader either.
    if ((message.kind === "status" || message.kind === "progress") && !matches(message.job)) return;
    if ((message.kind !== "line" && message.kind !== "timing") || !line) return inbox.push(message);
    if (line.empty) ticker?.add(lineWindowEnded);
    if (message.kind === "line") line.add(message.version, message.change);
    else line.retime();
  });
  try {
    const sent = new Map<string, Sent>();
    const resumeFrom = input.lastEventId ? Number.parseInt(input.lastEventId, 10) : null;
    let cursor = resumeFrom ?? 0;
    // Numbered on from the resume cursor's own: after "186.6" the next non-status event is "186.7" (or later), never
    // an id the client saw already.
    let minor = Number(input.lastEventId?.split(".")[1] ?? 0);
    const remember = (job: Job, statusEventId: number) =>
      sent.set(job.id, {
        statusEventId,
        status: job.status,
        queuePosition: job.queuePosition,
        progress: job.progress,
        estimatedStartAt: job.estimatedStartAt,
        estimatedFinishAt: job.estimatedFinishAt,
        movedBy: job.movedBy,
      });
    const minorId = () => `${cursor}.${++minor}`;
    // A fresh unfiltered subscription starts with live events only, so a job that was running or waiting before it
    // began is not among those sent: a running job's progress is news all the same, and so is a waiting job that was
    // moved (its `movedBy`, docs/API.md: line events alone do not say who moved it); its first snapshot goes out
    // with it. Only the job that changed is sent, not every waiting job.
    const isNews = (job: Job): boolean => {
      if (input.jobId || input.conversationId || !matches(job)) return false;
      const moved = job.status === "queued" && job.movedBy !== null;
      if (job.status !== "processing" && !moved) return false;
      sent.set(job.id, {
        statusEventId: 0,
        status: job.status,
        queuePosition: 0,
        progress: -1,
        estimatedStartAt: null,
        estimatedFinishAt: null,
        movedBy: job.movedBy,
      });
      return true;
    };
    /** The line event that must go before a snapshot just read (so its position is at the client's version). */
    const lineBefore = (): TrackedEnvelope<JobStreamEvent>[] => {
      const event = line?.take(() => service.estimates.timing());
      return event ? [tracked(minorId(), event)] : [];
    };

    if (input.jobId) {
      const job = await store.getJob(input.jobId);
      if (!job || !mayAccess(ctx.user, job.owner)) throw jobNotFound(input.jobId);
    }
    if (input.conversationId) await ownConversation(ctx, input.conversationId);

    if (resumeFrom !== null) {
      const [oldest, latest] = await Promise.all([store.oldestEventId(), store.latestEventId()]);
      if ((oldest !== null && resumeFrom < oldest - 1) || resumeFrom > (latest ?? 0))
        throw historyGone(resumeFrom, oldest, latest);
      for (;;) {
        const page = await store.eventsAfter(cursor, input, REPLAY_PAGE);
        // The retention loop may have pruned past the cursor while the page was read; the oldest id only ever
        // grows, so reading it after the page tells whether the page can have missed anything.
        const oldestNow = await store.oldestEventId();
        if (oldestNow !== null && cursor < oldestNow - 1) throw historyGone(cursor, oldestNow, latest);
        for (const event of page) {
          cursor = event.id;
          if (!matches(event.job)) continue;
          remember(event.job, event.id);
          yield tracked(String(event.id), event.job);
        }
        if (page.length < REPLAY_PAGE) break;
      }
    } else {
      cursor = (await store.latestEventId()) ?? 0;
    }

    for (const record of await currentJobs(ctx, input, resumeFrom !== null)) {
      if (!matches(record)) continue;
      const job = service.toLiveJob(record);
      // A status change after the cursor, or one that is published but not yet read back (or the reverse), is in the
      // inbox already (it was subscribed before anything was read): it goes out from there, with its own event id,
      // and none that came before it is skipped. A snapshot here would stand in for it and swallow them.
      if (record.lastEventId > cursor || job.status !== record.status) continue;
      const last = sent.get(job.id);
      // With line events a queued job's snapshot is always sent again: the line events before it may have moved
      // the position a replayed snapshot showed.
      if (last && (line === null || job.status !== "queued") && last.status === job.status && !moved(job, last)) {
        continue;
      }
      remember(job, Math.max(record.lastEventId, last?.statusEventId ?? 0));
      for (const event of [...lineBefore(), tracked(minorId(), job)]) yield event;
    }

    // Progress (and, with a jobId, position) changes wait in `dirty` for at most one coalescing window.
    const dirty = new Set<string>();
    let flushAt = 0;
    const markDirty = (id: string) => {
      if (dirty.size === 0) flushAt = performance.now() + coalesceMs;
      dirty.add(id);
    };
    // A line window that ended while this subscription was busy (e.g. catching up) is due at once.
    const nextDeadline = (): number | undefined =>
      lineDue ? 0 : dirty.size > 0 ? Math.max(0, flushAt - performance.now()) : undefined;
    for (;;) {
      const message = await inbox.next(nextDeadline());
      if (signal?.aborted) return;
      if (inbox.overflowed) {
        throw new FellBehind({
          message: `This subscription's reader left more than ${MAX_UNREAD} events unread; subscribe again with lastEventId to go on from the last one read`,
        });
      }
      // A removed user's token stops at once, and so does what it had open; so does a session signed out.
      if (message && endsAccess(message, ctx.user)) return;
      if (message?.kind === "status" && matches(message.job)) {
        const last = sent.get(message.job.id);
        if (last && message.eventId <= last.statusEventId) continue;
        dirty.delete(message.job.id);
        const live = service.liveJob(message.job.id);
        const job = live?.status === message.job.status ? live : message.job;
        // Its line event is numbered before the cursor moves past this status change: a client that resumes from
        // the line event's id must still get this change.
        const before = lineBefore();
        cursor = Math.max(cursor, message.eventId);
        if (isFinalStatus(job.status)) sent.delete(job.id);
        else remember(job, message.eventId);
        for (const event of [...before, tracked(String(message.eventId), job)]) yield event;
      } else if (message?.kind === "progress" && (sent.has(message.job.id) || isNews(message.job))) {
        markDirty(message.job.id);
      } else if (message?.kind === "line" || message?.kind === "timing") {
        // Only a jobId subscription queues line changes: its one job's position and estimates go out as a snapshot.
        for (const [id, last] of sent) {
          if (last.status === "queued" || (message.kind === "timing" && last.status === "processing")) markDirty(id);
        }
      }
      if (lineDue) {
        lineDue = false;
        yield* lineBefore();
      }
      if (dirty.size === 0 || performance.now() < flushAt) continue;
      const due: TrackedEnvelope<JobStreamEvent>[] = [];
      for (const id of dirty) {
        const job = service.liveJob(id);
        const last = sent.get(id);
        if (!job || !last || job.status !== last.status) continue;
        if (!moved(job, last)) continue;
        remember(job, last.statusEventId);
        due.push(...lineBefore(), tracked(minorId(), job));
      }
      dirty.clear();
      for (const event of due) yield event;
    }
  } finally {
    unsubscribe();
    ticker?.delete(lineWindowEnded);
  }
}

/**
 * One timer per hub and window for every subscription's folded line changes: a subscription whose line changes
 * joins the coming tick, instead of each setting a timer of its own (and being woken to set it) at every change.
 */
class LineTicker {
  private readonly due = new Set<() => void>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly ms: number) {}

  /** Calls `windowEnded` when the current window ends (a new one starts with it if none is open). */
  add(windowEnded: () => void): void {
    this.due.add(windowEnded);
    this.timer ??= setTimeout(this.tick, this.ms);
  }

  delete(windowEnded: () => void): void {
    this.due.delete(windowEnded);
  }

  private readonly tick = (): void => {
    this.timer = null;
    const due = [...this.due];
    this.due.clear();
    for (const windowEnded of due) windowEnded();
  };
}

const tickers = new WeakMap<EventHub, Map<number, LineTicker>>();

const lineTicker = (hub: EventHub, ms: number): LineTicker => {
  let byWindow = tickers.get(hub);
  if (!byWindow) tickers.set(hub, (byWindow = new Map()));
  let ticker = byWindow.get(ms);
  if (!ticker) byWindow.set(ms, (ticker = new LineTicker(ms)));
  return ticker;
};

const historyGone = (cursor: number, oldest: number | null, latest: number | null): HistoryGone =>
  new HistoryGone({
    message: `Event ${cursor} is outside the kept history (${oldest ?? 0}..${latest ?? 0}); reload to get the current state`,
  });

/** The jobs whose current snapshot a new subscriber gets: after a resume only those that can still change. */
async function currentJobs(ctx: Context, input: JobStreamInput, resumed: boolean): Promise<JobRecord[]> {
  const { store } = ctx;
  if (input.jobId) {
    const job = await store.getJob(input.jobId);
    return job ? [job] : [];
  }
  if (input.conversationId && !resumed) return store.listAllJobs({ conversationId: input.conversationId });
  // Unfiltered and fresh: live events only (a snapshot of every waiting job per subscriber is what made a crowd of
  // subscribers cost subscribers × waiting jobs); `jobs.list` gives the current state.
  if (!input.conversationId && !resumed) return [];
  // A conversation's waiting and running jobs through its own index: reading every active job to keep this
  // conversation's made each resume cost O(waiting jobs) (about a second behind 40,000 on PGlite, whose queries hold
  // the server's one thread).
  if (input.conversationId) {
    return store.listAllJobs({ conversationId: input.conversationId, status: ["queued", "processing"] });
  }
  return store.activeJobs();
}

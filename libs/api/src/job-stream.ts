import { isFinalStatus } from "@anvil/job-machine";
import type { Job } from "@anvil/job-machine";
import type { JobRecord } from "@anvil/persistence";
import { tracked } from "@trpc/server";
import type { TrackedEnvelope } from "@trpc/server";
import type { Context } from "./context";
import { HistoryGone, NotFound } from "./errors";
import type { HubMessage } from "./event-hub";
import { Inbox } from "./inbox";

/** Which jobs a subscription watches, and where it resumes. */
export interface JobStreamInput {
  jobId?: string | undefined;
  conversationId?: string | undefined;
  lastEventId?: string | null | undefined;
}

const REPLAY_PAGE = 500;
const DEFAULT_COALESCE_MS = 100;

/** What this subscriber was last sent of a job. */
interface Sent {
  statusEventId: number;
  status: Job["status"];
  queuePosition: number;
  progress: number;
}

/**
 * `jobs.events`: replays every status change after `lastEventId` from the event log, then the current
 * snapshot of each watched job, then live events. The live feed is subscribed before anything is read,
 * so nothing falls between the catch-up and the live part, and each job's status events are deduplicated
 * by event id, so nothing is sent twice. Position and progress changes are coalesced per subscriber.
 *
 * Event ids: a status change is sent as its log id ("42"); any other snapshot as "<last log id>.<n>", which
 * resumes from the same place.
 */
export async function* jobEventStream(
  ctx: Context,
  input: JobStreamInput,
  signal: AbortSignal | undefined,
): AsyncGenerator<TrackedEnvelope<Job>> {
  const { store, service, events } = ctx;
  const coalesceMs = ctx.coalesceMs ?? DEFAULT_COALESCE_MS;
  const matches = (job: Job | JobRecord) =>
    (!input.jobId || job.id === input.jobId) && (!input.conversationId || job.conversationId === input.conversationId);
  const inbox = new Inbox<HubMessage>();
  const unsubscribe = events.subscribe((message) => inbox.push(message));
  try {
    const sent = new Map<string, Sent>();
    const resumeFrom = input.lastEventId ? Number.parseInt(input.lastEventId, 10) : null;
    let cursor = resumeFrom ?? 0;
    let minor = 0;
    const remember = (job: Job, statusEventId: number) =>
      sent.set(job.id, { statusEventId, status: job.status, queuePosition: job.queuePosition, progress: job.progress });
    const minorId = () => `${cursor}.${++minor}`;

    if (input.jobId && !(await store.getJob(input.jobId)))
      throw new NotFound({ message: `No job with id ${input.jobId}` });
    if (input.conversationId && !(await store.getConversation(input.conversationId))) {
      throw new NotFound({ message: `No conversation with id ${input.conversationId}` });
    }

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
          remember(event.job, event.id);
          yield tracked(String(event.id), event.job);
        }
        if (page.length < REPLAY_PAGE) break;
      }
    } else {
      cursor = (await store.latestEventId()) ?? 0;
    }

    for (const record of await currentJobs(ctx, input, resumeFrom !== null)) {
      const job = service.toLiveJob(record);
      // A status change after the cursor, or one that is published but not yet read back (or the reverse), is in the
      // inbox already (it was subscribed before anything was read): it goes out from there, with its own event id,
      // and none that came before it is skipped. A snapshot here would stand in for it and swallow them.
      if (record.lastEventId > cursor || job.status !== record.status) continue;
      const last = sent.get(job.id);
      if (
        last &&
        last.status === job.status &&
        last.queuePosition === job.queuePosition &&
        last.progress === job.progress
      ) {
        continue;
      }
      remember(job, Math.max(record.lastEventId, last?.statusEventId ?? 0));
      yield tracked(minorId(), job);
    }

    // Position and progress changes wait in `dirty` for at most one coalescing window, then go out together.
    const dirty = new Set<string>();
    let flushAt = 0;
    const markDirty = (id: string) => {
      if (dirty.size === 0) flushAt = Date.now() + coalesceMs;
      dirty.add(id);
    };
    for (;;) {
      const message = await inbox.next(signal, dirty.size > 0 ? Math.max(0, flushAt - Date.now()) : undefined);
      if (signal?.aborted) return;
      if (message?.kind === "status" && matches(message.job)) {
        const last = sent.get(message.job.id);
        if (last && message.eventId <= last.statusEventId) continue;
        cursor = Math.max(cursor, message.eventId);
        dirty.delete(message.job.id);
        const live = service.liveJob(message.job.id);
        const job = live?.status === message.job.status ? live : message.job;
        if (isFinalStatus(job.status)) sent.delete(job.id);
        else remember(job, message.eventId);
        yield tracked(String(message.eventId), job);
      } else if (message?.kind === "progress" && sent.has(message.job.id)) {
        markDirty(message.job.id);
      } else if (message?.kind === "positions") {
        for (const [id, last] of sent) if (last.status === "queued") markDirty(id);
      }
      if (dirty.size === 0 || Date.now() < flushAt) continue;
      for (const id of dirty) {
        const job = service.liveJob(id);
        const last = sent.get(id);
        if (!job || !last || job.status !== last.status) continue;
        if (job.queuePosition === last.queuePosition && job.progress === last.progress) continue;
        remember(job, last.statusEventId);
        yield tracked(minorId(), job);
      }
      dirty.clear();
    }
  } finally {
    unsubscribe();
  }
}

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
  if (input.conversationId && !resumed) {
    const jobs: JobRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({
        conversationId: input.conversationId,
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      jobs.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return jobs;
  }
  const active = await store.activeJobs();
  return input.conversationId ? active.filter((job) => job.conversationId === input.conversationId) : active;
}

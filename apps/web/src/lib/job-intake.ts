import { batch, createSignal, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";
import { currentUser, recheckAuth } from "./auth";
import type { JobStore } from "./job-store";
import { MAX_SINGLE_READS } from "./line";
import { createSubscription, whenLiveAgain } from "./subscription";
import { coalesced, throttled } from "./tasks";
import { trpc } from "./trpc";
import type { Job, JobStreamEvent, QueueStatus } from "./types";

const QUEUE_POLL_MS = 3_000;
const CURSOR_KEY = "anvil:last-event";
/** At most one read of the conversation list this often for jobs of conversations it does not hold. */
const UNLISTED_RELOAD_MS = 1_000;

// The last event id this tab saw, per stream scope: a reload resumes the stream from it.
const readCursor = (scope: string): string | undefined => {
  try {
    const saved = JSON.parse(sessionStorage.getItem(CURSOR_KEY) ?? "null") as { scope?: string; id?: string } | null;
    return saved?.scope === scope && typeof saved.id === "string" ? saved.id : undefined;
  } catch {
    return undefined;
  }
};
const writeCursor = (scope: string, id: string) => {
  try {
    sessionStorage.setItem(CURSOR_KEY, JSON.stringify({ scope, id }));
  } catch {
    // Storage is off: a reload then starts from the current snapshot, which is complete for a conversation.
  }
};

/**
 * Watches the jobs the page is told of for one of the user's in a conversation the list does not hold (made in
 * another tab or on another device): asks `reload` once per such conversation, not at every event of its jobs (one
 * older than the pages read stays unlisted after the reload; an admin's stream carries other users' jobs).
 */
export function unlistedConversationWatch(options: {
  listed: (conversationId: string) => boolean;
  mine: (job: Job) => boolean;
  reload: () => void;
}): (job: Job) => void {
  const asked = new Set<string>();
  return (job) => {
    if (asked.has(job.conversationId) || !options.mine(job) || options.listed(job.conversationId)) return;
    asked.add(job.conversationId);
    options.reload();
  };
}

/** Options of {@link createJobIntake}: where the jobs go, and what the rest of the page is told of them. */
export interface JobIntakeOptions {
  store: JobStore;
  /** The conversation the page has open, whose jobs the stream carries; null: the line and the GPUs only. */
  openId: Accessor<string | null>;
  /** Whether the page holds conversation `id` (open, or in the list). */
  listed: (conversationId: string) => boolean;
  /** Reads the conversation list again. */
  reloadList: () => Promise<void>;
  /** A job the stream sent, once it is in the store. */
  onJobEvent: (job: Job) => void;
  /** Reads the open conversation's waiting jobs again, all in one read. */
  readOpenWaiting: () => void;
  /** The server no longer has the stream's history after the page's last event: the open conversation is read again. */
  onHistoryGone: () => void;
  /** A queue status in which a backend answers. */
  onBackendUp: () => void;
}

/**
 * The live job stream and the queue's status, taken into the job store: the stream of the open conversation (or of
 * none) resumed from the last event this tab saw, its events folded in together, and the queue read at each poll and
 * at each change of it.
 */
export function createJobIntake(options: JobIntakeOptions) {
  const { store } = options;
  const [queue, setQueue] = createSignal<QueueStatus>();

  // A job of this user's in a conversation the list lacks: the list is read again (a burst of them, once).
  const noteJob = unlistedConversationWatch({
    listed: options.listed,
    mine: (job) => {
      const me = currentUser();
      return me === null || job.owner === me.name;
    },
    reload: throttled(options.reloadList, UNLISTED_RELOAD_MS),
  });

  const refreshQueue = coalesced(async () => {
    try {
      const status = await trpc.queue.status.query();
      setQueue(status);
      // A backend answers (it came up: Forge was still starting, say): the lists of choices that could not be loaded
      // while none did are read again at each poll until they are, not only on a reload or the window's focus.
      if (status.backends.some((backend) => backend.healthy)) options.onBackendUp();
      // The panel names the running jobs; one from another conversation is read once, then kept in the store.
      for (const backend of status.backends) {
        if (backend.jobId && !store.jobs[backend.jobId]) {
          const job = await trpc.jobs.get.query({ jobId: backend.jobId });
          store.applySnapshot(job);
          noteJob(job);
        }
      }
    } catch {
      // The next poll tries again.
    }
  });

  /**
   * Reads again the waiting jobs whose positions a line event could not move (it was out of step with what the page
   * holds): one by one when few, else the open conversation's all in one read. A service's conversation holds
   * thousands, all out of step at once after a new leader's first line event: as many reads of one job each.
   */
  const readAgain = (jobIds: readonly string[]) => {
    const open = options.openId();
    const inOpen = (jobId: string) => open !== null && store.jobs[jobId]?.conversationId === open;
    const many = jobIds.filter(inOpen).length > MAX_SINGLE_READS;
    if (many) options.readOpenWaiting();
    for (const jobId of many ? jobIds.filter((jobId) => !inOpen(jobId)) : jobIds) {
      trpc.jobs.get.query({ jobId }).then(store.applyEvent, () => {
        // The next line event or status change tells again.
      });
    }
  };

  // The stream's events, taken in together once those that arrived at once are in: a conversation's stream opens with
  // a snapshot of each of its waiting jobs (thousands, in a service's conversation), and each one taken in alone made
  // every view of the conversation's jobs compute again (seconds of a busy page, and positions shown falling behind).
  // Each with the stream it came on (the open conversation's, or "*"), whose resume cursor it moves.
  let arrived: { event: JobStreamEvent; eventId: string; stream: string }[] = [];
  let takingIn: ReturnType<typeof setTimeout> | undefined;
  const takeIn = () => {
    takingIn = undefined;
    const events = arrived;
    arrived = [];
    if (events.length === 0) return;
    const conversationId = options.openId();
    let queueChanged = false;
    batch(() => {
      for (const { event } of events) {
        if ("kind" in event) {
          readAgain(store.applyLine(event));
          // Another user's submission or start reaches this page as a change of the line only: the panel's counts
          // follow it now rather than at the next poll (timing alone changes no count).
          if (event.from !== event.version) queueChanged = true;
          continue;
        }
        store.applyEvent(event);
        noteJob(event);
        queueChanged = true;
        options.onJobEvent(event);
      }
    });
    // The cursor of the stream open now: events of one left meanwhile (another conversation opened) move none.
    const scope = conversationId ?? "*";
    const ofThisStream = events.filter((arrival) => arrival.stream === scope);
    const last = ofThisStream[ofThisStream.length - 1];
    if (last) writeCursor(scope, last.eventId);
    if (queueChanged) void refreshQueue();
  };
  onCleanup(() => clearTimeout(takingIn));

  // The stream ended or failed, and has not been live since.
  let reopening = false;
  const ended = () => {
    reopening = true;
    void recheckAuth();
  };
  // The page subscribes to what it shows: the open conversation's jobs; with none open, the line and the GPUs of the
  // queue panel (status changes and compact line events only: a fresh unfiltered stream sends no snapshots).
  const stream = createSubscription<{ conversationId?: string }, JobStreamEvent>({
    input: () => {
      const id = options.openId();
      return id ? { conversationId: id } : {};
    },
    subscribe: (input, handlers) => trpc.jobs.events.subscribe(input, handlers),
    resumeFrom: (input) => readCursor(input.conversationId ?? "*"),
    onOpen: () => {
      // What the last stream brought goes in before the new one's line starts afresh.
      clearTimeout(takingIn);
      takeIn();
      store.resetLine();
    },
    onData: (event, eventId) => {
      arrived.push({ event, eventId, stream: options.openId() ?? "*" });
      takingIn ??= setTimeout(takeIn, 0);
    },
    onHistoryGone: options.onHistoryGone,
    // Either may be a sign-in that ended: then the page asks for one, or starts afresh as whoever it now is.
    onError: () => ended(),
    onEnded: () => ended(),
  });
  // And again once it is live again: an admin may have changed the user's rights while it reopened (the server
  // ended the stream for the change before; the page, asked at that end, heard of the rights of then).
  whenLiveAgain(stream.state, () => {
    if (!reopening) return;
    reopening = false;
    void recheckAuth();
  });

  const poll = setInterval(() => void refreshQueue(), QUEUE_POLL_MS);
  onCleanup(() => clearInterval(poll));

  return {
    queue,
    /** Reads the queue's status again (and the running jobs it names that the store lacks). */
    refreshQueue,
    /** Pauses (nothing starts; running jobs finish) or resumes the queue: admins only. */
    setPaused: async (paused: boolean) => {
      setQueue(paused ? await trpc.queue.pause.mutate() : await trpc.queue.resume.mutate());
    },
    connection: stream.state,
    /**
     * The conversation whose job stream the server has opened ("" for the stream of no conversation), null while
     * none is: whether what happens from now on reaches the page, which the shown connection does not say (it stays
     * "Live" while a switched stream opens).
     */
    streamOpenFor: (): string | null => {
      const input = stream.started();
      return input === null ? null : (input.conversationId ?? "");
    },
  };
}

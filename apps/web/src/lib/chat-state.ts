import { batch, createEffect, createMemo, createSignal, on, onCleanup } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { currentUser, recheckAuth } from "./auth";
import { createCatalog } from "./catalog";
import { forgetDue } from "./due-memory";
import { errorCode, errorMessage } from "./errors";
import { createJobStore } from "./job-store";
import { MAX_SINGLE_READS } from "./line";
import { submissionKeys } from "./submission-keys";
import { createSubscription } from "./subscription";
import { coalesced, throttled } from "./tasks";
import { trpc } from "./trpc";
import type { Conversation, ConversationEvent, Job, JobStreamEvent, Message, QueueStatus, SubmitInput } from "./types";

const QUEUE_POLL_MS = 3_000;
/** Conversations read per page of the list, and at most per refresh (the API's limit). */
const CONVERSATION_PAGE = 100;
const MAX_CONVERSATION_PAGE = 500;
/** What a prompt sent to a conversation deleted meanwhile says (the page has left it; the prompt stays in the box). */
const CONVERSATION_GONE =
  "This conversation was deleted in another tab or window. Press Generate again to start a new conversation with this prompt.";
const CURSOR_KEY = "anvil:last-event";
/** At most one read of the conversation list this often for jobs of conversations it does not hold. */
const UNLISTED_RELOAD_MS = 1_000;
/**
 * How often a visible page reads the conversation list again. `conversations.events` tells it of every change as it
 * happens; this only catches one that stream missed (it was down, or the server that had it stopped).
 */
const LIST_POLL_MS = 60_000;
/** What a job action that did not find its job says (the page reads the conversation again, and leaves it if gone). */
const JOB_GONE = "This job is gone: it was removed, or it is not yours.";
/** What cancelling a conversation's waiting jobs says when the server does not find the conversation. */
const CONVERSATION_NOT_FOUND = "This conversation is gone: it was deleted, or it is not yours.";

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

/** A conversation's jobs (with `status`, only those), read a page of 500 at a time. */
async function allJobs(conversationId: string, status?: Job["status"]): Promise<Job[]> {
  const items: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await trpc.jobs.list.query({
      conversationId,
      limit: 500,
      ...(status ? { status: [status] } : {}),
      ...(cursor ? { cursor } : {}),
    });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

/** `fresh`, with the objects of `shown` for the conversations that did not change, so that their list rows are kept. */
export const keepingUnchanged = (shown: readonly Conversation[], fresh: Conversation[]): Conversation[] => {
  const before = new Map(shown.map((conversation) => [conversation.id, conversation]));
  return fresh.map((conversation) => {
    const old = before.get(conversation.id);
    const same =
      old !== undefined &&
      Object.keys(conversation).length === Object.keys(old).length &&
      (Object.keys(conversation) as (keyof Conversation)[]).every((key) => old[key] === conversation[key]);
    return same ? old : conversation;
  });
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

/** Orders conversations as the list does: newest first, then by id (`conversations.list`'s order). */
const newerFirst = (a: Conversation, b: Conversation): number =>
  a.createdAt === b.createdAt ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.createdAt < b.createdAt ? 1 : -1;

/**
 * `shown` with `conversation` (made or renamed elsewhere) in it: in its place when listed, else put where the order
 * puts it, unless it is older than the last shown while older ones are not listed yet ("Show older" brings it then).
 * `shown` itself when nothing changes.
 */
export const withConversation = (
  shown: Conversation[],
  conversation: Conversation,
  hasOlder: boolean,
): Conversation[] => {
  const listed = shown.find((c) => c.id === conversation.id);
  if (listed) {
    const [kept] = keepingUnchanged([listed], [conversation]);
    return kept === listed ? shown : shown.map((c) => (c === listed ? conversation : c));
  }
  const before = shown.findIndex((c) => newerFirst(conversation, c) < 0);
  if (before === -1) return hasOlder ? shown : [...shown, conversation];
  return [...shown.slice(0, before), conversation, ...shown.slice(before)];
};

/** Everything the chat page shows and does, fed by queries and the live job stream; `listPollMs` is for tests. */
export function createChatState(options: { listPollMs?: number } = {}) {
  // A job that ended shows no estimate again: what this browser kept of its estimates goes.
  const store = createJobStore({ onEnded: forgetDue });
  const [selectedId, setSelectedId] = createSignal<string | null>(new URLSearchParams(location.search).get("c"));
  const [messages, setMessages] = createStore<Message[]>([]);
  // Looked up for every event of the open conversation's stream: a set, not a walk of thousands of messages each.
  const messageIds = createMemo(() => new Set(messages.map((m) => m.id)));
  const [loading, setLoading] = createSignal(false);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  const [conversations, setConversations] = createSignal<Conversation[]>([]);
  const [listError, setListError] = createSignal<string | null>(null);
  // The open conversation when the list does not hold it (older than the pages read): read alone, for its title.
  const [unlisted, setUnlisted] = createSignal<Conversation | null>(null);
  const [queue, setQueue] = createSignal<QueueStatus>();
  // What the page says once the conversation it had open was deleted elsewhere (until another is chosen).
  const [notice, setNotice] = createSignal<string | null>(null);
  const catalog = createCatalog();

  const select = (id: string | null) => {
    if (id === selectedId()) {
      // Choosing the open conversation again is how people retry one that failed to load.
      if (loadError()) void loadConversation();
      return;
    }
    batch(() => {
      setSelectedId(id);
      setMessages([]);
      setLoadError(null);
      setNotice(null);
    });
    history.replaceState(null, "", id ? `/?c=${encodeURIComponent(id)}` : "/");
  };

  // A page opened without a conversation in its URL shows the newest one, once.
  let openNewest = selectedId() === null;

  /** The page leaves conversation `id` (gone: deleted here, in another tab or by a script) for a new one. */
  const leave = (id: string) => {
    if (selectedId() === id) {
      openNewest = false;
      select(null);
    }
    setConversations(conversations().filter((conversation) => conversation.id !== id));
  };

  // Deletions this page asked for: their event may come before the mutation's answer, and is no news here.
  const deletingHere = new Set<string>();
  /**
   * Conversation `id` is gone: the page leaves it, saying so when it had it open. `known` when the conversation
   * stream said it was deleted; a read that found nothing (a link to one deleted long ago, or to another user's)
   * cannot tell which.
   */
  const conversationGone = (id: string, known = true) => {
    const title = (conversations().find((c) => c.id === id) ?? (unlisted()?.id === id ? unlisted() : null))?.title;
    const wasOpen = selectedId() === id;
    leave(id);
    if (wasOpen && !deletingHere.has(id)) {
      const which = title
        ? `“${title}”`
        : known
          ? "The conversation you had open"
          : "The conversation this page opened";
      const why = known ? "was deleted in another tab or window" : "is gone: it was deleted, or it is not yours";
      setNotice(`${which} ${why}. What you type here starts a new conversation.`);
    }
  };

  // Messages of jobs the stream showed while the open conversation was being read (its first snapshots come then):
  // looked for once that read is in, rather than each asking for another read of the whole conversation.
  const awaited = new Set<string>();
  const loadConversation = coalesced(async () => {
    const id = selectedId();
    if (!id) return;
    setLoading(true);
    try {
      const listed = conversations().some((conversation) => conversation.id === id);
      const [list, jobs, alone] = await Promise.all([
        trpc.messages.list.query({ conversationId: id }),
        allJobs(id),
        listed ? null : trpc.conversations.get.query({ conversationId: id }),
      ]);
      if (selectedId() !== id) {
        awaited.clear();
        return;
      }
      batch(() => {
        for (const job of jobs) store.applySnapshot(job);
        setMessages(reconcile(list, { key: "id" }));
        if (alone) setUnlisted(alone);
        setLoadError(null);
      });
      const read = new Set(list.map((m) => m.id));
      const missing = [...awaited].some((messageId) => !read.has(messageId));
      awaited.clear();
      // A job submitted elsewhere after the read began: its messages are in the next one.
      if (missing) void loadConversation();
    } catch (error) {
      if (selectedId() !== id) return;
      const code = errorCode(error);
      if (code === "NOT_FOUND" || code === "BAD_REQUEST") conversationGone(id, false);
      else setLoadError(errorMessage(error));
    } finally {
      setLoading(false);
    }
  });

  // The list shows the newest conversations, a page at a time (a service that submits without a conversation makes
  // one per job: tens of thousands would be read and drawn at every focus otherwise).
  const [hasOlderConversations, setHasOlderConversations] = createSignal(false);
  let listing = false;
  const loadConversations = coalesced(async () => {
    listing = true;
    try {
      const shown = conversations();
      // As many as are shown (up to a request's limit), so that a refresh keeps what "Show older" brought in.
      const limit = Math.min(MAX_CONVERSATION_PAGE, Math.max(CONVERSATION_PAGE, shown.length));
      const fresh = await trpc.conversations.list.query({ limit });
      const last = fresh.at(-1);
      const from = fresh.length === limit && last ? shown.findIndex((c) => c.id === last.id) : -1;
      const tail = from === -1 ? [] : shown.slice(from + 1).filter((c) => !fresh.some((f) => f.id === c.id));
      // The rows of unchanged conversations stay as they are (a keyboard user's focus among them with them).
      const list = keepingUnchanged(shown, [...fresh, ...tail]);
      const open = selectedId();
      const wasListed = shown.some((conversation) => conversation.id === open);
      batch(() => {
        setConversations(list);
        setHasOlderConversations(fresh.length === limit && (tail.length === 0 || hasOlderConversations()));
        setListError(null);
      });
      // The newest of the user's own: an admin's list holds everyone's, and a page that opened another user's
      // conversation unasked would take the admin's next prompt there (which the server refuses).
      const me = currentUser()?.name;
      const newest = list.find((conversation) => me === undefined || conversation.owner === me);
      if (openNewest && selectedId() === null && newest) select(newest.id);
      openNewest = false;
      // The open one is no longer listed: deleted in another tab, or by a script? Loading it tells (and leaves it then).
      if (open && wasListed && !list.some((conversation) => conversation.id === open)) void loadConversation();
    } catch (error) {
      // Said on the page (an empty list would claim there are no conversations), with a way to try again.
      setListError(`The conversations could not be loaded: ${errorMessage(error)}`);
    } finally {
      listing = false;
    }
  });

  /** Appends the next page of older conversations to the list. */
  const loadOlderConversations = async () => {
    const last = conversations().at(-1);
    if (!last) return;
    const page = await trpc.conversations.list.query({ limit: CONVERSATION_PAGE, before: last.id });
    batch(() => {
      const shown = conversations();
      setConversations([...shown, ...page.filter((c) => !shown.some((s) => s.id === c.id))]);
      setHasOlderConversations(page.length === CONVERSATION_PAGE);
    });
  };

  // A job of this user's in a conversation the list lacks: the list is read again (a burst of them, once).
  const noteJob = unlistedConversationWatch({
    listed: (id) => id === selectedId() || conversations().some((conversation) => conversation.id === id),
    mine: (job) => {
      const me = currentUser();
      return me === null || job.owner === me.name;
    },
    reload: throttled(loadConversations, UNLISTED_RELOAD_MS),
  });

  const refreshQueue = coalesced(async () => {
    try {
      const status = await trpc.queue.status.query();
      setQueue(status);
      // A backend answers (it came up: Forge was still starting, say): the lists of choices that could not be loaded
      // while none did are read again at each poll until they are, not only on a reload or the window's focus.
      if (catalog.failed() && status.backends.some((backend) => backend.healthy)) catalog.load();
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

  // The open conversation's waiting jobs, read again at once: their positions, when too many are out of step.
  const readOpenWaiting = coalesced(async () => {
    const id = selectedId();
    if (!id) return;
    const waiting = await allJobs(id, "queued").catch(() => null);
    // Failed: the next line event or status change tells again.
    if (!waiting || selectedId() !== id) return;
    batch(() => {
      for (const job of waiting) store.applyEvent(job);
    });
  });

  /**
   * Reads again the waiting jobs whose positions a line event could not move (it was out of step with what the page
   * holds): one by one when few, else the open conversation's all in one read. A service's conversation holds
   * thousands, all out of step at once after a new leader's first line event: as many reads of one job each.
   */
  const readAgain = (jobIds: readonly string[]) => {
    const open = selectedId();
    const inOpen = (jobId: string) => open !== null && store.jobs[jobId]?.conversationId === open;
    const many = jobIds.filter(inOpen).length > MAX_SINGLE_READS;
    if (many) void readOpenWaiting();
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
    const conversationId = selectedId();
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
        // A job this page has no message for was submitted elsewhere (another tab, a script): fetch its messages.
        if (event.conversationId === conversationId && !messageIds().has(event.messageId)) {
          if (loading()) awaited.add(event.messageId);
          else void loadConversation();
        }
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

  // The page subscribes to what it shows: the open conversation's jobs; with none open, the line and the GPUs of the
  // queue panel (status changes and compact line events only: a fresh unfiltered stream sends no snapshots).
  const stream = createSubscription<{ conversationId?: string }, JobStreamEvent>({
    input: () => {
      const id = selectedId();
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
      arrived.push({ event, eventId, stream: selectedId() ?? "*" });
      takingIn ??= setTimeout(takeIn, 0);
    },
    onHistoryGone: () => void loadConversation(),
    // Either may be a sign-in that ended: then the page asks for one, or starts afresh as whoever it now is.
    onError: () => void recheckAuth(),
    onEnded: () => void recheckAuth(),
  });

  // The user's conversations as they are made, renamed and deleted on any page. A hidden page holds no such stream
  // (nothing it shows needs it, and the server keeps one subscription fewer per background tab); once shown again,
  // the stream it opens begins with a reload of the list.
  const [visible, setVisible] = createSignal(document.visibilityState === "visible");
  createSubscription<Record<string, never>, ConversationEvent>({
    input: () => (visible() ? {} : null),
    subscribe: (input, handlers) => trpc.conversations.events.subscribe(input, handlers),
    onData: (event) => {
      if (event.kind === "reload") void loadConversations();
      else if (event.kind === "deleted") conversationGone(event.conversationId);
      else {
        const { conversation } = event;
        setConversations(withConversation(conversations(), conversation, hasOlderConversations()));
        if (unlisted()?.id === conversation.id) setUnlisted(conversation);
      }
    },
  });

  createEffect(on(selectedId, () => void loadConversation()));
  /** Reads again everything the page shows from queries: after a failed load, or once the stream is back. */
  const reload = () => {
    void loadConversations();
    void loadConversation();
    void refreshQueue();
    catalog.load();
  };
  // Back from "reconnecting" (the server restarted, the network came back): a load that failed meanwhile (a
  // list of choices among them) is tried again, so the page does not wait for a job event or a click to show the conversation;
  // the queue's panel is read again at once too (paused or resumed meanwhile, say), not at the next poll.
  createEffect(
    on(stream.state, (state, previous) => {
      if (state !== "live" || previous !== "reconnecting") return;
      if (loadError() || listError()) reload();
      else {
        void refreshQueue();
        catalog.load();
      }
    }),
  );
  void loadConversations();
  void refreshQueue();
  catalog.load();
  const poll = setInterval(() => void refreshQueue(), QUEUE_POLL_MS);
  // A change the conversation stream missed: a visible page reads the list now and then all the same (a tick during
  // a read is skipped, not queued behind it); one that loses the open conversation leaves it.
  const listPoll = setInterval(() => {
    if (document.visibilityState === "visible" && !listing) void loadConversations();
  }, options.listPollMs ?? LIST_POLL_MS);
  // Back to this page: read the conversations again too (a page shown again reopens their stream, whose first event
  // is a reload; a focus reads them for a stream that is down).
  const onFocus = () => {
    void loadConversations();
    catalog.load();
  };
  const onVisible = () => {
    setVisible(document.visibilityState === "visible");
    if (visible()) onFocus();
  };
  window.addEventListener("focus", onFocus);
  document.addEventListener("visibilitychange", onVisible);
  onCleanup(() => {
    clearInterval(poll);
    clearInterval(listPoll);
    window.removeEventListener("focus", onFocus);
    document.removeEventListener("visibilitychange", onVisible);
  });

  /**
   * Runs a job action; one that does not find the job reads the open conversation again: it leaves the conversation
   * if that was deleted elsewhere (which also cancelled its jobs), or shows it as the server now has it otherwise.
   */
  const jobAction = async <T>(job: Job, action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      if (errorCode(error) !== "NOT_FOUND" || job.conversationId !== selectedId()) throw error;
      void loadConversation();
      throw new Error(JOB_GONE, { cause: error });
    }
  };

  const keys = submissionKeys();
  const retryKeys = submissionKeys();
  const submit = async (
    request: Omit<SubmitInput, "conversationId" | "idempotencyKey">,
    conversationId = selectedId(),
  ) => {
    const input = { ...request, ...(conversationId ? { conversationId } : {}) };
    // Sending the same again after no answer is a retry of that send: with its key, never a second job.
    const idempotencyKey = keys.keyFor(input);
    const job = await trpc.jobs.submit.mutate({ ...input, idempotencyKey }).catch((error: unknown) => {
      if (!conversationId || errorCode(error) !== "NOT_FOUND") throw error;
      // The only thing a submit does not find is its conversation: it was deleted since the page showed it.
      leave(conversationId);
      void loadConversations();
      throw new Error(CONVERSATION_GONE);
    });
    keys.answered(idempotencyKey);
    store.applySnapshot(job);
    if (job.conversationId !== selectedId()) {
      select(job.conversationId);
      void loadConversations();
    } else {
      void loadConversation();
    }
    void refreshQueue();
    return job;
  };

  return {
    jobs: store.jobs,
    messages,
    selectedId,
    select,
    startNew: () => {
      openNewest = false;
      select(null);
    },
    loading,
    /** What the page says about the conversation it had open, e.g. that it was deleted in another tab. */
    notice,
    dismissNotice: () => setNotice(null),
    /** Why the conversation or the list of conversations could not be loaded, if one of them failed. */
    loadError: () => loadError() ?? listError(),
    reload,
    conversations,
    /** The open conversation, from the list or read alone; undefined while neither has it. */
    openConversation: () => {
      const id = selectedId();
      const listed = conversations().find((c) => c.id === id);
      if (listed !== undefined) return listed;
      const alone = unlisted();
      return alone?.id === id ? alone : undefined;
    },
    /** More conversations exist than the list shows. */
    hasOlderConversations,
    loadOlderConversations,
    queue,
    /** The checkpoints, modules, samplers and schedulers to choose from. */
    catalog: catalog.catalog,
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
    submit,
    cancel: async (job: Job) =>
      store.applyEvent(await jobAction(job, () => trpc.jobs.cancel.mutate({ jobId: job.id }))),
    /** A new job like a failed or cancelled one (same prompt, params, priority and conversation), by the server. */
    retry: async (job: Job) => {
      // Like a submission's: Retry pressed again after no answer is the same retry, never a second new job.
      const idempotencyKey = retryKeys.keyFor({ retry: job.id });
      const retried = await jobAction(job, () => trpc.jobs.retry.mutate({ jobId: job.id, idempotencyKey }));
      retryKeys.answered(idempotencyKey);
      store.applySnapshot(retried);
      if (retried.conversationId === selectedId()) void loadConversation();
      void refreshQueue();
      return retried;
    },
    /**
     * Cancels every waiting job of the caller's in conversation `id` in one call, and resolves with the ids it
     * cancelled (none when they had all started meanwhile). The cards are not touched here: each job's `cancelled`
     * comes on the live stream like any other change, so nothing is applied twice.
     */
    cancelWaiting: async (id: string) => {
      const { jobIds } = await trpc.jobs.cancelWaiting.mutate({ conversationId: id }).catch((error: unknown) => {
        if (errorCode(error) !== "NOT_FOUND") throw error;
        // Deleted elsewhere (which cancelled its jobs): reading it again leaves it.
        if (id === selectedId()) void loadConversation();
        throw new Error(CONVERSATION_NOT_FOUND, { cause: error });
      });
      void refreshQueue();
      return jobIds;
    },
    /** Moves one of the caller's waiting jobs to the front or back of their own waiting jobs. */
    move: async (job: Job, to: "front" | "back") => {
      const moved = await jobAction(job, () => trpc.jobs.move.mutate({ jobId: job.id, to }));
      // Its new place comes as a line event; reading it now shows the move before the stream tells it.
      trpc.jobs.get.query({ jobId: moved.id }).then(store.applyEvent, () => undefined);
      return moved;
    },
    /** Gives a conversation a new title. */
    renameConversation: async (id: string, title: string) => {
      const renamed = await trpc.conversations.rename.mutate({ conversationId: id, title });
      setConversations(conversations().map((conversation) => (conversation.id === id ? renamed : conversation)));
    },
    /** Deletes a conversation for good (a job of it still running is stopped); the page leaves it when it was open. */
    deleteConversation: async (id: string) => {
      deletingHere.add(id);
      try {
        await trpc.conversations.delete.mutate({ conversationId: id });
      } finally {
        deletingHere.delete(id);
      }
      leave(id);
      void loadConversations();
      void refreshQueue();
    },
    /** Pauses (nothing starts; running jobs finish) or resumes the queue: admins only. */
    setPaused: async (paused: boolean) => {
      setQueue(paused ? await trpc.queue.pause.mutate() : await trpc.queue.resume.mutate());
    },
  };
}

import { batch, createEffect, createMemo, createSignal, on, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { currentUser } from "./auth";
import { errorCode, errorMessage } from "./errors";
import type { JobStore } from "./job-store";
import { submissionKeys } from "./submission-keys";
import { coalesced } from "./tasks";
import { trpc } from "./trpc";
import type { Conversation, Job, Message, SubmitInput } from "./types";

/** What a prompt sent to a conversation deleted meanwhile says (the page has left it; the prompt stays in the box). */
const CONVERSATION_GONE =
  "This conversation was deleted in another tab or window. Press Generate again to start a new conversation with this prompt.";
/** What a job action that did not find its job says (the page reads the conversation again, and leaves it if gone). */
const JOB_GONE = "This job is gone: it was removed, or it is not yours.";
/** What cancelling a conversation's waiting jobs says when the server does not find the conversation. */
const CONVERSATION_NOT_FOUND = "This conversation is gone: it was deleted, or it is not yours.";

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

/** Options of {@link createOpenConversation}: the job store it reads jobs into, and the list and queue it touches. */
export interface OpenConversationOptions {
  store: JobStore;
  /** The conversations the list holds. */
  conversations: Accessor<readonly Conversation[]>;
  /** Conversation `id` is gone (deleted here or elsewhere): the list drops it. */
  onGone: (id: string) => void;
  /** Reads the conversation list again. */
  reloadList: () => void;
  /** Reads the queue's status again. */
  refreshQueue: () => void;
}

/**
 * The conversation the page has open (the `c` of its URL): its messages and jobs, read as it opens and again as its
 * jobs tell, what the page says once it is gone, and what people do in it (submit, cancel, retry, move, delete).
 */
export function createOpenConversation(options: OpenConversationOptions) {
  const { store, conversations } = options;
  const [selectedId, setSelectedId] = createSignal<string | null>(new URLSearchParams(location.search).get("c"));
  const [messages, setMessages] = createStore<Message[]>([]);
  // Looked up for every event of the open conversation's stream: a set, not a walk of thousands of messages each.
  const messageIds = createMemo(() => new Set(messages.map((m) => m.id)));
  const [loading, setLoading] = createSignal(false);
  const [loadError, setLoadError] = createSignal<string | null>(null);
  // The open conversation when the list does not hold it (older than the pages read): read alone, for its title.
  const [unlisted, setUnlisted] = createSignal<Conversation | null>(null);
  // What the page says once the conversation it had open was deleted elsewhere (until another is chosen).
  const [notice, setNotice] = createSignal<string | null>(null);

  /** Shows conversation `id` (null: a new one) in place of the open one. */
  const show = (id: string | null) =>
    batch(() => {
      setSelectedId(id);
      setMessages([]);
      setLoadError(null);
      setNotice(null);
    });
  /**
   * Opens conversation `id` (null: a new one). One the user chose (`step`) is a step of the tab's history, so that
   * Back (a phone's back gesture) goes to the conversation before it, where it left Anvil for whatever page came
   * before; the page's own moves (the newest opened at first, a deleted one left, a new one's first prompt) are not.
   */
  const select = (id: string | null, step = false) => {
    if (id === selectedId()) {
      // Choosing the open conversation again is how people retry one that failed to load.
      if (loadError()) void load();
      return;
    }
    show(id);
    const url = id ? `/?c=${encodeURIComponent(id)}` : "/";
    if (step) history.pushState(null, "", url);
    else history.replaceState(null, "", url);
  };
  // Back and Forward open the conversation the address names then (none: a new one, not the newest).
  const followHistory = () => {
    openNewest = false;
    const id = new URLSearchParams(location.search).get("c");
    if (id !== selectedId()) show(id);
  };
  window.addEventListener("popstate", followHistory);
  onCleanup(() => window.removeEventListener("popstate", followHistory));

  // A page opened without a conversation in its URL shows the newest one, once.
  let openNewest = selectedId() === null;

  /** The page leaves conversation `id` (gone: deleted here, in another tab or by a script) for a new one. */
  const leave = (id: string) => {
    if (selectedId() === id) {
      openNewest = false;
      select(null);
    }
    options.onGone(id);
  };

  // Deletions this page asked for: their event may come before the mutation's answer, and is no news here.
  const deletingHere = new Set<string>();
  /**
   * Conversation `id` is gone: the page leaves it, saying so when it had it open. `known` when the conversation
   * stream said it was deleted; a read that found nothing (a link to one deleted long ago, or to another user's)
   * cannot tell which.
   */
  const gone = (id: string, known = true) => {
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
  const load = coalesced(async () => {
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
      if (missing) void load();
    } catch (error) {
      if (selectedId() !== id) return;
      const code = errorCode(error);
      if (code === "NOT_FOUND" || code === "BAD_REQUEST") gone(id, false);
      else setLoadError(errorMessage(error));
    } finally {
      setLoading(false);
    }
  });

  // The open conversation's waiting jobs, read again at once: their positions, when too many are out of step.
  const readWaiting = coalesced(async () => {
    const id = selectedId();
    if (!id) return;
    const waiting = await allJobs(id, "queued").catch(() => null);
    // Failed: the next line event or status change tells again.
    if (!waiting || selectedId() !== id) return;
    batch(() => {
      for (const job of waiting) store.applyEvent(job);
    });
  });

  createEffect(on(selectedId, () => void load()));

  /**
   * Runs a job action; one that does not find the job reads the open conversation again: it leaves the conversation
   * if that was deleted elsewhere (which also cancelled its jobs), or shows it as the server now has it otherwise.
   */
  const jobAction = async <T>(job: Job, action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      if (errorCode(error) !== "NOT_FOUND" || job.conversationId !== selectedId()) throw error;
      void load();
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
      options.reloadList();
      throw new Error(CONVERSATION_GONE);
    });
    keys.answered(idempotencyKey);
    store.applySnapshot(job);
    if (job.conversationId !== selectedId()) {
      select(job.conversationId);
      options.reloadList();
    } else {
      void load();
    }
    options.refreshQueue();
    return job;
  };

  return {
    selectedId,
    select,
    /** Leaves the open conversation for a new one (no conversation open), as a step of the tab's history. */
    startNew: () => {
      openNewest = false;
      select(null, true);
    },
    messages,
    loading,
    /** Why the open conversation could not be read, until a read succeeds. */
    loadError,
    /** Reads the open conversation again: its messages, its jobs, and its title when the list does not hold it. */
    load,
    readWaiting,
    /** What the page says about the conversation it had open, e.g. that it was deleted in another tab. */
    notice,
    dismissNotice: () => setNotice(null),
    /** The open conversation, from the list or read alone; undefined while neither has it. */
    conversation: () => {
      const id = selectedId();
      const listed = conversations().find((c) => c.id === id);
      if (listed !== undefined) return listed;
      const alone = unlisted();
      return alone?.id === id ? alone : undefined;
    },
    /** A read of the list: a page opened without a conversation opens the newest of the user's own, once. */
    listRead: (list: readonly Conversation[]) => {
      // The newest of the user's own: an admin's list holds everyone's, and a page that opened another user's
      // conversation unasked would take the admin's next prompt there (which the server refuses).
      const me = currentUser()?.name;
      const newest = list.find((conversation) => me === undefined || conversation.owner === me);
      if (openNewest && selectedId() === null && newest) select(newest.id);
      openNewest = false;
    },
    gone,
    /** Conversation `conversation` was made or renamed elsewhere: the open one's title follows when read alone. */
    changed: (conversation: Conversation) => {
      if (unlisted()?.id === conversation.id) setUnlisted(conversation);
    },
    /** A job from the stream: one this page has no message for was submitted elsewhere (another tab, a script). */
    jobEvent: (job: Job) => {
      if (job.conversationId !== selectedId() || messageIds().has(job.messageId)) return;
      // Its messages are fetched: by the read under way, else by one more.
      if (loading()) awaited.add(job.messageId);
      else void load();
    },
    submit,
    cancel: async (job: Job) =>
      store.applyEvent(await jobAction(job, () => trpc.jobs.cancel.mutate({ jobId: job.id }))),
    /**
     * An admin's cancel of the job running on a GPU, by its id (the queue panel knows no more of another user's job):
     * its card, where this page shows it, follows at once; the GPU's row with the queue's next status.
     */
    cancelRunning: async (jobId: string) => {
      const job = await trpc.jobs.cancel.mutate({ jobId });
      if (store.jobs[job.id]) store.applyEvent(job);
      options.refreshQueue();
    },
    /** A new job like a failed or cancelled one (same prompt, params, priority and conversation), by the server. */
    retry: async (job: Job) => {
      // Like a submission's: Retry pressed again after no answer is the same retry, never a second new job.
      const idempotencyKey = retryKeys.keyFor({ retry: job.id });
      const retried = await jobAction(job, () => trpc.jobs.retry.mutate({ jobId: job.id, idempotencyKey }));
      retryKeys.answered(idempotencyKey);
      store.applySnapshot(retried);
      if (retried.conversationId === selectedId()) void load();
      options.refreshQueue();
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
        if (id === selectedId()) void load();
        throw new Error(CONVERSATION_NOT_FOUND, { cause: error });
      });
      options.refreshQueue();
      return jobIds;
    },
    /** Moves one of the caller's waiting jobs to the front or back of their own waiting jobs. */
    move: async (job: Job, to: "front" | "back") => {
      const moved = await jobAction(job, () => trpc.jobs.move.mutate({ jobId: job.id, to }));
      // Its new place comes as a line event; reading it now shows the move before the stream tells it.
      trpc.jobs.get.query({ jobId: moved.id }).then(store.applyEvent, () => undefined);
      return moved;
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
      options.reloadList();
      options.refreshQueue();
    },
  };
}

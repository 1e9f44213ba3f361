import { batch, createSignal, onCleanup } from "solid-js";
import type { Accessor } from "solid-js";
import { errorMessage } from "./errors";
import { createSubscription } from "./subscription";
import { coalesced } from "./tasks";
import { trpc } from "./trpc";
import type { Conversation, ConversationEvent } from "./types";

/** Conversations read per page of the list, and at most per refresh (the API's limit). */
const CONVERSATION_PAGE = 100;
const MAX_CONVERSATION_PAGE = 500;
/**
 * How often a visible page reads the conversation list again. `conversations.events` tells it of every change as it
 * happens; this only catches one that stream missed (it was down, or the server that had it stopped).
 */
const LIST_POLL_MS = 60_000;

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

/** Options of {@link createConversationList}: what the list tells the page of, and the open conversation it reads. */
export interface ConversationListOptions {
  /** The conversation the page has open, if any. */
  openId: Accessor<string | null>;
  /** Each read of the list, with what the list holds now. */
  onRead: (conversations: readonly Conversation[]) => void;
  /** A read no longer lists the open conversation, which it listed before: deleted in another tab, or by a script? */
  onOpenUnlisted: () => void;
  /** The conversation stream says conversation `id` was deleted (the list still holds it: the page leaves it). */
  onDeleted: (id: string) => void;
  /** The conversation stream brought `conversation`, made or renamed elsewhere, and the list took it in. */
  onChanged: (conversation: Conversation) => void;
  /** The page came back into view (focused, or shown again), after the list's own read. */
  onFocus: () => void;
  /** How often a visible page reads the list again (tests shorten it). */
  pollMs?: number | undefined;
}

/**
 * The user's conversations as the side list shows them: the newest a page at a time, kept live by
 * `conversations.events` while the page is visible, and read again at its focus and now and then. `load()` reads it.
 */
export function createConversationList(options: ConversationListOptions) {
  const [conversations, setConversations] = createSignal<Conversation[]>([]);
  // Said on the page (an empty list would claim there are no conversations), with a way to try again.
  const [error, setError] = createSignal<string | null>(null);
  // The list shows the newest conversations, a page at a time (a service that submits without a conversation makes
  // one per job: tens of thousands would be read and drawn at every focus otherwise).
  const [hasOlder, setHasOlder] = createSignal(false);
  let listing = false;
  const load = coalesced(async () => {
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
      const open = options.openId();
      const wasListed = shown.some((conversation) => conversation.id === open);
      batch(() => {
        setConversations(list);
        setHasOlder(fresh.length === limit && (tail.length === 0 || hasOlder()));
        setError(null);
      });
      options.onRead(list);
      // The open one is no longer listed: deleted in another tab, or by a script? Loading it tells (and leaves it).
      if (open && wasListed && !list.some((conversation) => conversation.id === open)) options.onOpenUnlisted();
    } catch (error) {
      setError(`The conversations could not be loaded: ${errorMessage(error)}`);
    } finally {
      listing = false;
    }
  });

  /** Appends the next page of older conversations to the list. */
  const loadOlder = async () => {
    const last = conversations().at(-1);
    if (!last) return;
    const page = await trpc.conversations.list.query({ limit: CONVERSATION_PAGE, before: last.id });
    batch(() => {
      const shown = conversations();
      setConversations([...shown, ...page.filter((c) => !shown.some((s) => s.id === c.id))]);
      setHasOlder(page.length === CONVERSATION_PAGE);
    });
  };

  // The user's conversations as they are made, renamed and deleted on any page. A hidden page holds no such stream
  // (nothing it shows needs it, and the server keeps one subscription fewer per background tab); once shown again,
  // the stream it opens begins with a reload of the list.
  const [visible, setVisible] = createSignal(document.visibilityState === "visible");
  createSubscription<Record<string, never>, ConversationEvent>({
    input: () => (visible() ? {} : null),
    subscribe: (input, handlers) => trpc.conversations.events.subscribe(input, handlers),
    onData: (event) => {
      if (event.kind === "reload") void load();
      else if (event.kind === "deleted") options.onDeleted(event.conversationId);
      else {
        const { conversation } = event;
        setConversations(withConversation(conversations(), conversation, hasOlder()));
        options.onChanged(conversation);
      }
    },
  });

  // A change the conversation stream missed: a visible page reads the list now and then all the same (a tick during
  // a read is skipped, not queued behind it); one that loses the open conversation leaves it.
  const poll = setInterval(() => {
    if (document.visibilityState === "visible" && !listing) void load();
  }, options.pollMs ?? LIST_POLL_MS);
  // Back to this page: read the conversations again too (a page shown again reopens their stream, whose first event
  // is a reload; a focus reads them for a stream that is down).
  const onFocus = () => {
    void load();
    options.onFocus();
  };
  const onVisible = () => {
    setVisible(document.visibilityState === "visible");
    if (visible()) onFocus();
  };
  window.addEventListener("focus", onFocus);
  document.addEventListener("visibilitychange", onVisible);
  onCleanup(() => {
    clearInterval(poll);
    window.removeEventListener("focus", onFocus);
    document.removeEventListener("visibilitychange", onVisible);
  });

  return {
    conversations,
    /** Why the list could not be read, until a read succeeds. */
    error,
    /** More conversations exist than the list shows. */
    hasOlder,
    load,
    loadOlder,
    /** Takes conversation `id` (gone) out of the list. */
    remove: (id: string) => setConversations(conversations().filter((conversation) => conversation.id !== id)),
    /** Gives a conversation a new title. */
    rename: async (id: string, title: string) => {
      const renamed = await trpc.conversations.rename.mutate({ conversationId: id, title });
      setConversations(conversations().map((conversation) => (conversation.id === id ? renamed : conversation)));
    },
  };
}

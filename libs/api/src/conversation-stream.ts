import type { Conversation } from "@anvil/persistence";
import { tracked } from "@trpc/server";
import type { TrackedEnvelope } from "@trpc/server";
import { mayAccess } from "./caller";
import type { Context } from "./context";
import { endsAccess } from "./event-hub";
import type { EventHub } from "./event-hub";
import { FanOut } from "./fan-out";
import { Inbox } from "./inbox";
import { ownerOf } from "./ownership";
import { eventCursor, fieldsOf } from "./schemas";

/**
 * What `conversations.events` sends: a conversation made or renamed (`saved`, as the database has it now), one
 * deleted, or `reload`: read `conversations.list` again. Every stream begins with a `reload` once it listens, so a
 * client that reads the list then misses nothing that happened before; changes are not logged, so a stream that
 * resumes (`lastEventId`) begins with it too.
 */
export type ConversationEvent =
  { kind: "saved"; conversation: Conversation } | { kind: "deleted"; conversationId: string } | { kind: "reload" };

/** `conversations.events` input: `lastEventId` (what an EventSource sends again by itself) is taken and changes nothing. */
export const conversationEventsInput = fieldsOf({ lastEventId: eventCursor.nullish() }).default({});

/** The most conversations read and sent one by one at a time; a larger burst (a big `jobs.submitMany`) is a `reload`. */
export const MAX_CONVERSATION_CHANGES = 64;

/** Conversations a stream remembers having sent; past this it forgets them all (a few more reads, never a wrong event). */
const KNOWN_LIMIT = 10_000;

const FAN_OUT = new FanOut();

/** Tells every open `conversations.events` stream that conversation `conversationId` of `owner`'s changed. */
export const conversationChanged = (events: EventHub, owner: string, conversationId: string): void =>
  events.publish({ kind: "conversation", owner, conversationId });

/**
 * `conversations.events`: the caller's conversations (everyone's for an admin) as they are made, renamed and deleted.
 *
 * The hub only says which conversation changed (a `conversation` message from the router's mutations, or the first
 * job queued in a conversation this stream has not sent yet, which is how a conversation made by `jobs.submit`
 * shows); the database says what it is now, read when the change is sent. So two renames racing each other end
 * with the title the database kept, and a deleted one is one the database no longer has. In a cluster every call
 * reaches the leader (followers forward them), so its hub hears every change.
 */
export async function* conversationEventStream(
  ctx: Pick<Context, "events" | "store" | "user">,
  signal: AbortSignal | undefined,
): AsyncGenerator<TrackedEnvelope<ConversationEvent>> {
  const { events, store, user } = ctx;
  const inbox = new Inbox<never>(signal, FAN_OUT);
  // Conversation ids to read and send; filled by the hub listener, emptied by the loop.
  const pending = new Set<string>();
  const known = new Set<string>();
  let revoked = false;
  const note = (conversationId: string) => {
    pending.add(conversationId);
    inbox.wakeUp();
  };
  const unsubscribe = events.subscribe((message) => {
    if (message.kind === "conversation" && mayAccess(user, message.owner)) note(message.conversationId);
    else if (endsAccess(message, user)) {
      revoked = true;
      inbox.wakeUp();
    } else if (
      message.kind === "status" &&
      message.job.status === "queued" &&
      !known.has(message.job.conversationId) &&
      mayAccess(user, ownerOf(message.job))
    ) {
      // Read once, not for every job of a batch that shares the conversation.
      known.add(message.job.conversationId);
      note(message.job.conversationId);
    }
  });
  try {
    let sent = 0;
    const next = () => String(++sent);
    yield tracked(next(), { kind: "reload" });
    for (;;) {
      // Checked before waiting (the listener adds synchronously): a wake-up while the loop was reading is not lost.
      if (pending.size === 0 && !revoked) await inbox.next();
      if (signal?.aborted || revoked) return;
      if (pending.size === 0) continue;
      const ids = [...pending];
      pending.clear();
      if (ids.length > MAX_CONVERSATION_CHANGES) {
        yield tracked(next(), { kind: "reload" });
        continue;
      }
      const rows = await Promise.all(ids.map(async (id) => [id, await store.getConversation(id)] as const));
      if (known.size > KNOWN_LIMIT) known.clear();
      for (const [conversationId, row] of rows) {
        if (row === null) {
          known.delete(conversationId);
          yield tracked(next(), { kind: "deleted", conversationId });
        } else if (mayAccess(user, row.owner)) {
          known.add(conversationId);
          yield tracked(next(), { kind: "saved", conversation: row });
        }
      }
    }
  } finally {
    unsubscribe();
  }
}

import type { JobStatus } from "@anvil/job-machine";
import { and, asc, desc, eq, inArray, ne, sql } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { lockEventOrder } from "./event-order";
import { toConversation, toMessage } from "./records";
import type { Conversation, Message, OwnedConversation } from "./records";
import { conversations, jobs, messages, webhookDeliveries } from "./schema";
import { isUuid } from "./sql-guards";

const DEFAULT_TITLE = "New conversation";
const TITLE_LENGTH = 60;

/** A conversation title made from a prompt: one line, at most 60 characters. */
export function titleFromPrompt(prompt: string): string {
  const line = prompt.trim().replace(/\s+/g, " ");
  // Array.from counts code points, so an emoji is never cut in half.
  const chars = Array.from(line);
  if (chars.length === 0) return DEFAULT_TITLE;
  return chars.length <= TITLE_LENGTH ? line : `${chars.slice(0, TITLE_LENGTH - 1).join("")}…`;
}

/** Inserts a conversation of `owner`'s (default `local`). */
export async function createConversation(db: AnvilDb, title?: string, owner?: string): Promise<Conversation> {
  const [row] = await db
    .insert(conversations)
    .values({ title: title ?? DEFAULT_TITLE, owner })
    .returning();
  if (row === undefined) throw new Error("insert into conversations returned no row");
  return toConversation(row);
}

/** A page of a conversation list: the newest `limit`, or the newest `limit` older than conversation `before`. */
export interface ConversationPage {
  readonly limit: number;
  readonly before?: string | undefined;
}

/**
 * `owner`'s conversations (everyone's when undefined), newest first; with `page`, one page of them. `before` must name
 * a conversation of the list (`owner`'s): any other names no place in it, and the page is empty.
 */
export async function listConversations(db: AnvilDb, owner?: string, page?: ConversationPage): Promise<Conversation[]> {
  const { before } = page ?? {};
  if (before !== undefined && !isUuid(before)) return [];
  const rows = await conversationListQuery(db, owner, page);
  return rows.map(toConversation);
}

/** The query of {@link listConversations} (`before`, if any, a uuid), as it is sent: to explain it in tests. */
export function conversationListQuery(db: AnvilDb, owner?: string, page?: ConversationPage) {
  const { before } = page ?? {};
  const query = db
    .select()
    .from(conversations)
    .where(
      and(
        owner === undefined ? undefined : eq(conversations.owner, owner),
        before === undefined
          ? undefined
          : sql`(${conversations.createdAt}, ${conversations.id}) < (
              select c.created_at, c.id from ${conversations} c
              where c.id = ${before}::uuid ${owner === undefined ? sql`` : sql`and c.owner = ${owner}`}
            )`,
      ),
    )
    .orderBy(desc(conversations.createdAt), desc(conversations.id))
    .$dynamic();
  return page === undefined ? query : query.limit(page.limit);
}

/** One conversation with its owner, or null when there is none with that id. */
export async function getConversation(db: AnvilDb, id: string): Promise<OwnedConversation | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(conversations).where(eq(conversations.id, id));
  return row === undefined ? null : toConversation(row);
}

/** Gives a conversation a new title; null when there is none with that id. */
export async function renameConversation(db: AnvilDb, id: string, title: string): Promise<Conversation | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.update(conversations).set({ title }).where(eq(conversations.id, id)).returning();
  return row === undefined ? null : toConversation(row);
}

/** The messages of a conversation, oldest first. */
export async function listMessages(db: AnvilDb, conversationId: string): Promise<Message[]> {
  if (!isUuid(conversationId)) return [];
  const rows = await db
    .select()
    .from(messages)
    .where(eq(messages.conversationId, conversationId))
    .orderBy(asc(messages.createdAt), asc(messages.id));
  return rows.map(toMessage);
}

/**
 * What deleting a conversation did: nothing, for there is no such conversation; nothing, for some of its jobs are
 * still waiting or running (`jobIds`: those, the waiting ones first, the order to cancel them in: a running one
 * cancelled first frees its GPU for a waiting one of the same conversation, which would then start only to be
 * interrupted); or deleted it with its messages and jobs (`jobIds`: all of them).
 */
export type ConversationDeletion =
  { kind: "missing" } | { kind: "live"; jobIds: string[] } | { kind: "deleted"; jobs: DeletedJob[] };

/** A job deleted with its conversation, and how it had ended. */
export interface DeletedJob {
  id: string;
  status: JobStatus;
}

/**
 * Deletes a conversation whose jobs have all ended, with its messages, its jobs and, through their foreign keys,
 * their events and stored images, and their finished webhook deliveries; a delivery still pending is left to be
 * made (the receiver hears how its job ended). It holds the event-order lock (event-order.ts), which every
 * submission takes before it checks its conversation: one submitted into this conversation meanwhile is either
 * seen here as waiting (and nothing is deleted) or finds the conversation gone.
 */
export async function deleteConversation(db: AnvilDb, id: string): Promise<ConversationDeletion> {
  if (!isUuid(id)) return { kind: "missing" };
  return db.transaction(async (tx): Promise<ConversationDeletion> => {
    await lockEventOrder(tx);
    const [row] = await tx.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, id));
    if (row === undefined) return { kind: "missing" };
    const held = await tx.select({ id: jobs.id, status: jobs.status }).from(jobs).where(eq(jobs.conversationId, id));
    const live = [
      ...held.filter((job) => job.status === "queued"),
      ...held.filter((job) => job.status === "processing"),
    ].map((job) => job.id);
    if (live.length > 0) return { kind: "live", jobIds: live };
    const ids = held.map((job) => job.id);
    if (ids.length > 0) {
      await tx
        .delete(webhookDeliveries)
        .where(and(inArray(webhookDeliveries.jobId, ids), ne(webhookDeliveries.status, "pending")));
    }
    await tx.delete(conversations).where(eq(conversations.id, id));
    return { kind: "deleted", jobs: held };
  });
}

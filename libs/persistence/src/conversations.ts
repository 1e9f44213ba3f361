import { asc, desc, eq } from "drizzle-orm";
import type { AnvilDb } from "./database";
import { toConversation, toMessage } from "./records";
import type { Conversation, Message, OwnedConversation } from "./records";
import { conversations, messages } from "./schema";
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

/** `owner`'s conversations (everyone's when undefined), newest first. */
export async function listConversations(db: AnvilDb, owner?: string): Promise<Conversation[]> {
  const rows = await db
    .select()
    .from(conversations)
    .where(owner === undefined ? undefined : eq(conversations.owner, owner))
    .orderBy(desc(conversations.createdAt), desc(conversations.id));
  return rows.map(toConversation);
}

/** One conversation with its owner, or null when there is none with that id. */
export async function getConversation(db: AnvilDb, id: string): Promise<OwnedConversation | null> {
  if (!isUuid(id)) return null;
  const [row] = await db.select().from(conversations).where(eq(conversations.id, id));
  return row === undefined ? null : { ...toConversation(row), owner: row.owner };
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

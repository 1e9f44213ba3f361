import type { Job } from "@anvil/job-machine";
import type { OwnedConversation } from "@anvil/persistence";
import { mayAccess } from "./caller";
import type { Context } from "./context";
import { NotFound } from "./errors";

/** The owner of a job snapshot; events logged before there were users carry none: those are `local`'s. */
export const ownerOf = (job: Pick<Job, "owner">): string => (job.owner as string | undefined) ?? "local";

/** The answer for another user's job: the same as for one that does not exist. */
export const jobNotFound = (jobId: string) => new NotFound({ message: `No job with id ${jobId}` });

/** The answer for another user's conversation: the same as for one that does not exist. */
export const conversationNotFound = (id: string) => new NotFound({ message: `No conversation with id ${id}` });

/** The caller's job (any job for an admin); NOT_FOUND for another user's, never FORBIDDEN. */
export async function ownJob(ctx: Pick<Context, "service" | "user">, jobId: string): Promise<Job> {
  const job = await ctx.service.get(jobId);
  if (!mayAccess(ctx.user, ownerOf(job))) throw jobNotFound(jobId);
  return job;
}

/** The caller's conversation (any for an admin); NOT_FOUND for another user's or an unknown one. */
export async function ownConversation(
  ctx: Pick<Context, "store" | "user">,
  conversationId: string,
): Promise<OwnedConversation> {
  const conversation = await ctx.store.getConversation(conversationId);
  if (!conversation || !mayAccess(ctx.user, conversation.owner)) throw conversationNotFound(conversationId);
  return conversation;
}

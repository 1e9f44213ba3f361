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

/**
 * That the job is the caller's (any job for an admin); NOT_FOUND for another user's, never FORBIDDEN. Unlike
 * {@link ownJob} it makes no snapshot of the job: its estimates cost a projection of the whole line after each change
 * of it (about 30 ms behind 40,000 waiting jobs), which a cancellation would pay for an answer it throws away.
 */
export async function ownJobId(ctx: Pick<Context, "service" | "user">, jobId: string): Promise<void> {
  if (!mayAccess(ctx.user, await ctx.service.ownerOf(jobId))) throw jobNotFound(jobId);
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

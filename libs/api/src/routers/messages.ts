import { ownConversation } from "../ownership";
import { publicProcedure, router } from "../trpc";
import { conversationIdInput } from "../schemas";

/** `messages.*`: a conversation's messages, image jobs' live state in their metadata. */
export const messagesRouter = router({
  list: publicProcedure.input(conversationIdInput).query(async ({ ctx, input }) => {
    await ownConversation(ctx, input.conversationId);
    const messages = await ctx.store.listMessages(input.conversationId);
    return messages.map((message) => {
      const jobId = message.metadata["jobId"];
      const job = typeof jobId === "string" ? ctx.service.liveJob(jobId) : undefined;
      if (!job) return message;
      // Positions are derived, never stored per change, so the live value is laid over the persisted one.
      const { status, queuePosition, progress, imageUrl, error, prompt } = job;
      return {
        ...message,
        metadata: { ...message.metadata, jobId, status, queuePosition, progress, imageUrl, error, prompt },
      };
    });
  }),
});

import { publicProcedure, router } from "../trpc";
import { conversationNotFound, ownConversation } from "../ownership";
import { conversationIdInput, createConversationInput, renameConversationInput } from "../schemas";

/** `conversations.*`: the chat threads jobs belong to. */
export const conversationsRouter = router({
  create: publicProcedure
    .input(createConversationInput)
    .mutation(({ ctx, input }) => ctx.store.createConversation(input.title || undefined, ctx.user.name)),

  /** The caller's conversations; an admin's list holds everyone's. */
  list: publicProcedure.query(({ ctx }) => ctx.store.listConversations(ctx.user.admin ? undefined : ctx.user.name)),

  /** Gives the caller's conversation (anyone's, for an admin) a new title. */
  rename: publicProcedure.input(renameConversationInput).mutation(async ({ ctx, input }) => {
    await ownConversation(ctx, input.conversationId);
    const renamed = await ctx.store.renameConversation(input.conversationId, input.title);
    if (!renamed) throw conversationNotFound(input.conversationId);
    return renamed;
  }),

  /** Deletes the caller's conversation (anyone's, for an admin) with its messages, jobs and images; live jobs are cancelled first. */
  delete: publicProcedure
    .input(conversationIdInput)
    .mutation(({ ctx, input }) => ctx.service.deleteConversation(input.conversationId, ctx.user)),
});

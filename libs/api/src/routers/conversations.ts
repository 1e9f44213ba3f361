import { publicProcedure, router } from "../trpc";
import { conversationNotFound, ownConversation } from "../ownership";
import {
  conversationIdInput,
  createConversationInput,
  listConversationsInput,
  renameConversationInput,
} from "../schemas";

/** `conversations.*`: the chat threads jobs belong to. */
export const conversationsRouter = router({
  create: publicProcedure
    .input(createConversationInput)
    .mutation(({ ctx, input }) => ctx.store.createConversation(input.title || undefined, ctx.user.name)),

  /**
   * The caller's conversations (an admin's list holds everyone's), newest first: all of them, or with `limit` one page,
   * and with `before` the page after that conversation.
   */
  list: publicProcedure
    .input(listConversationsInput)
    .query(({ ctx, input }) => ctx.store.listConversations(ctx.user.admin ? undefined : ctx.user.name, input)),

  /** One of the caller's conversations (anyone's, for an admin); NOT_FOUND for another's or an unknown one. */
  get: publicProcedure.input(conversationIdInput).query(async ({ ctx, input }) => {
    const { owner: _owner, ...conversation } = await ownConversation(ctx, input.conversationId);
    return conversation;
  }),

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

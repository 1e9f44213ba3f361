import { toTRPCError, publicProcedure, router } from "../trpc";
import { conversationChanged, conversationEventStream, conversationEventsInput } from "../conversation-stream";
import { conversationNotFound, ownConversation } from "../ownership";
import { inSlot } from "../subscription-slots";
import {
  conversationIdInput,
  createConversationInput,
  listConversationsInput,
  renameConversationInput,
} from "../schemas";

/** `conversations.*`: the chat threads jobs belong to. */
export const conversationsRouter = router({
  create: publicProcedure.input(createConversationInput).mutation(async ({ ctx, input }) => {
    const made = await ctx.store.createConversation(input.title || undefined, ctx.user.name);
    conversationChanged(ctx.events, ctx.user.name, made.id);
    return made;
  }),

  /**
   * The caller's conversations (an admin's list holds everyone's), newest first: all of them, or with `limit` one page,
   * and with `before` the page after that conversation.
   */
  list: publicProcedure
    .input(listConversationsInput)
    .query(({ ctx, input }) => ctx.store.listConversations(ctx.user.admin ? undefined : ctx.user.name, input)),

  /** One of the caller's conversations (anyone's, for an admin); NOT_FOUND for another's or an unknown one. */
  get: publicProcedure.input(conversationIdInput).query(async ({ ctx, input }) => {
    return ownConversation(ctx, input.conversationId);
  }),

  /** Gives the caller's conversation (anyone's, for an admin) a new title. */
  rename: publicProcedure.input(renameConversationInput).mutation(async ({ ctx, input }) => {
    const { owner } = await ownConversation(ctx, input.conversationId);
    try {
      const renamed = await ctx.store.renameConversation(input.conversationId, input.title);
      if (!renamed) throw conversationNotFound(input.conversationId);
      return renamed;
    } finally {
      // Also when the write's answer was lost: the streams read what the database has, so a needless wake-up is harmless.
      conversationChanged(ctx.events, owner, input.conversationId);
    }
  }),

  /** Deletes the caller's conversation (anyone's, for an admin) with its messages, jobs and images; live jobs are cancelled first. */
  delete: publicProcedure.input(conversationIdInput).mutation(async ({ ctx, input }) => {
    const { owner } = await ownConversation(ctx, input.conversationId);
    try {
      return await ctx.service.deleteConversation(input.conversationId, ctx.user);
    } finally {
      conversationChanged(ctx.events, owner, input.conversationId);
    }
  }),

  /**
   * The caller's conversations (everyone's, for an admin) as they are made, renamed and deleted, on this page or any
   * other, through this server or another of the cluster; it begins with `reload` (see conversation-stream.ts).
   */
  events: publicProcedure.input(conversationEventsInput).subscription(async function* ({ ctx, signal }) {
    try {
      yield* inSlot(ctx.subscriptions, () => conversationEventStream(ctx, signal));
    } catch (error) {
      // Errors inside a running stream do not pass through middleware; map them here, at the edge.
      throw toTRPCError(error) ?? error;
    }
  }),
});

import { publicProcedure, router } from "../trpc";
import { createConversationInput } from "../schemas";

/** `conversations.*`: the chat threads jobs belong to. */
export const conversationsRouter = router({
  create: publicProcedure
    .input(createConversationInput)
    .mutation(({ ctx, input }) => ctx.store.createConversation(input.title || undefined)),

  list: publicProcedure.query(({ ctx }) => ctx.store.listConversations()),
});

import { publicProcedure, router } from "../trpc";

/** `checkpoints.*`: the models the backends can load, for choosing one at submit. */
export const checkpointsRouter = router({
  list: publicProcedure.query(async ({ ctx }) =>
    (await ctx.service.checkpoints.list()).map((model) => ({ title: model.title, name: model.modelName })),
  ),
});

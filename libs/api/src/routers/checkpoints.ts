import { publicProcedure, router } from "../trpc";
import { noInput } from "../schemas";

/** `checkpoints.*`: the models the backends can load, and the modules a checkpoint may need beside it. */
export const checkpointsRouter = router({
  list: publicProcedure
    .input(noInput)
    .query(async ({ ctx }) =>
      (await ctx.service.checkpoints.list()).map((model) => ({ title: model.title, name: model.modelName })),
    ),
  /** VAE and text-encoder files, for a Flux checkpoint that comes without them (`modules` at submit). */
  modules: publicProcedure
    .input(noInput)
    .query(async ({ ctx }) =>
      (await ctx.service.checkpoints.modules()).map((module) => ({ name: module.name, filename: module.filename })),
    ),
});

import { publicProcedure, router } from "../trpc";
import { noInput } from "../schemas";

/** `samplers.*`: the sampler names (and aliases) `jobs.submit` takes. */
export const samplersRouter = router({
  list: publicProcedure
    .input(noInput)
    .query(async ({ ctx }) =>
      (await ctx.service.checkpoints.samplers()).map((item) => ({ name: item.name, aliases: [...item.aliases] })),
    ),
});

/** `schedulers.*`: the scheduler names (and labels) `jobs.submit` takes. */
export const schedulersRouter = router({
  list: publicProcedure
    .input(noInput)
    .query(async ({ ctx }) =>
      (await ctx.service.checkpoints.schedulers()).map((item) => ({ name: item.name, aliases: [...item.aliases] })),
    ),
});

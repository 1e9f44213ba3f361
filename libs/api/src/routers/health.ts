import { publicProcedure } from "../trpc";
import { noInput } from "../schemas";

/** `health`: whether the server, its database and its backends answer. */
export const healthProcedure = publicProcedure.input(noInput).query(async ({ ctx }) => {
  const backends = ctx.service.monitor.health().map(({ url, healthy }) => ({ url, healthy }));
  return { ok: await ctx.service.databaseAvailable(), database: ctx.database, backends };
});

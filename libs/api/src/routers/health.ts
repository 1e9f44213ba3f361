import { publicProcedure } from "../trpc";

/** `health`: whether the server, its database and its backends answer. */
export const healthProcedure = publicProcedure.query(async ({ ctx }) => {
  const backends = ctx.service.monitor.health().map(({ url, healthy }) => ({ url, healthy }));
  return { ok: await ctx.service.databaseAvailable(), database: ctx.database, backends };
});

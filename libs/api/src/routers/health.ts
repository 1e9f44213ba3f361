import { publicProcedure } from "../trpc";

/** `health`: whether the server, its database and its backends answer. */
export const healthProcedure = publicProcedure.query(({ ctx }) => {
  const backends = ctx.service.monitor.health().map(({ url, healthy }) => ({ url, healthy }));
  return { ok: !ctx.service.scheduler.journal.failing, database: ctx.database, backends };
});

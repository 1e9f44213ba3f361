import { publicProcedure, router } from "../trpc";

/** `queue.*`: the line and the GPUs at a glance. */
export const queueRouter = router({
  status: publicProcedure.query(({ ctx }) => {
    const { queued, processing, backends } = ctx.service.scheduler.snapshot();
    const health = ctx.service.monitor.health();
    return {
      queued,
      processing,
      backends: backends.map((backend, i) => ({
        url: health[i]?.url ?? "",
        busy: backend.busy,
        jobId: backend.jobId,
        healthy: backend.healthy,
        since: backend.since === null ? null : new Date(backend.since).toISOString(),
      })),
    };
  }),
});

import { mayAccess } from "../caller";
import type { Context } from "../context";
import { ownerOf } from "../ownership";
import { adminProcedure, publicProcedure, router } from "../trpc";
import { lineInput, noInput } from "../schemas";

const status = (ctx: Context) => {
  const { queued, processing, backends } = ctx.service.scheduler.snapshot();
  const health = ctx.service.monitor.health();
  const mayAccessJob = (jobId: string) => {
    const job = ctx.service.liveJob(jobId);
    return job !== undefined && mayAccess(ctx.user, ownerOf(job));
  };
  return {
    queued,
    processing,
    paused: ctx.service.scheduler.held,
    // Why the GPUs may idle with jobs waiting and jobs at 99 %: see docs/API.md.
    imagesNotStored: ctx.service.scheduler.imagesBlocked,
    // A SIGTERM's grace (or a term as leader that ended): running jobs may finish, and none starts here again.
    serverStopping: !ctx.service.scheduler.dispatching,
    backends: backends.map((backend, i) => ({
      url: health[i]?.url ?? "",
      busy: backend.busy,
      // Which job runs is the owner's business (and an admin's); that a GPU is busy is everyone's.
      jobId: backend.jobId !== null && mayAccessJob(backend.jobId) ? backend.jobId : null,
      healthy: backend.healthy,
      // Why a backend that is not healthy takes no job (older servers leave it out): see docs/API.md.
      unavailable: backend.healthy ? null : (health[i]?.unavailable ?? "unprobed"),
      stopping: backend.stopping,
      // Its job sets up and loads its checkpoint (30–60 s for Flux): its progress stays near 0 meanwhile.
      loadingModel: backend.busy && backend.jobId !== null && (health[i]?.loadingModel ?? false),
      since: backend.since === null ? null : new Date(backend.since).toISOString(),
    })),
  };
};

/** `queue.*`: the line and the GPUs at a glance; pause and resume (admins). */
export const queueRouter = router({
  status: publicProcedure.input(noInput).query(({ ctx }) => status(ctx)),

  line: publicProcedure.input(lineInput).query(({ ctx, input }) => ctx.service.line(ctx.user, input.limit)),

  pause: adminProcedure.input(noInput).mutation(async ({ ctx }) => {
    await ctx.service.setPaused(true, ctx.user.name);
    return status(ctx);
  }),

  resume: adminProcedure.input(noInput).mutation(async ({ ctx }) => {
    await ctx.service.setPaused(false, ctx.user.name);
    return status(ctx);
  }),
});

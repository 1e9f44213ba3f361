import { toTRPCError, publicProcedure, router } from "../trpc";
import { jobEventStream } from "../job-stream";
import { jobEventsInput, jobIdInput, listJobsInput, submitJobInput } from "../schemas";

/** `jobs.*`: submit, read, cancel and watch image jobs. */
export const jobsRouter = router({
  submit: publicProcedure.input(submitJobInput).mutation(({ ctx, input }) => ctx.service.submit(input)),

  get: publicProcedure.input(jobIdInput).query(({ ctx, input }) => ctx.service.get(input.jobId)),

  list: publicProcedure.input(listJobsInput).query(async ({ ctx, input }) => {
    const page = await ctx.store.listJobs({
      limit: input.limit,
      ...(input.status ? { status: input.status } : {}),
      ...(input.conversationId ? { conversationId: input.conversationId } : {}),
      ...(input.cursor ? { cursor: input.cursor } : {}),
    });
    return { items: page.items.map((record) => ctx.service.toLiveJob(record)), nextCursor: page.nextCursor };
  }),

  cancel: publicProcedure.input(jobIdInput).mutation(({ ctx, input }) => ctx.service.cancel(input.jobId)),

  events: publicProcedure.input(jobEventsInput).subscription(async function* ({ ctx, input, signal }) {
    try {
      yield* jobEventStream(ctx, input, signal);
    } catch (error) {
      // Errors inside a running stream do not pass through middleware; map them here, at the edge.
      throw toTRPCError(error) ?? error;
    }
  }),
});

import { TRPCError } from "@trpc/server";
import { toTRPCError, publicProcedure, router } from "../trpc";
import { withCallKey } from "../call-keys";
import { jobEventStream } from "../job-stream";
import { ownConversation, ownJob, ownJobId } from "../ownership";
import { inSlot } from "../subscription-slots";
import {
  cancelWaitingInput,
  jobEventsInput,
  jobIdInput,
  listJobsInput,
  moveJobInput,
  retryJobInput,
  submitJobInput,
  submitManyInput,
} from "../schemas";

/** `jobs.*`: submit, read, cancel and watch image jobs. */
export const jobsRouter = router({
  submit: publicProcedure.input(submitJobInput).mutation(({ ctx, input, batchIndex }) => {
    if (input.priority > 0 && !ctx.user.admin) {
      throw new TRPCError({ code: "FORBIDDEN", message: "priority above 0 is for admins only" });
    }
    return ctx.service.submit(withCallKey(input, ctx.callId, batchIndex), ctx.user);
  }),

  submitMany: publicProcedure.input(submitManyInput).mutation(({ ctx, input, batchIndex }) => {
    const raised = input.jobs.findIndex((job) => job.priority > 0);
    if (raised >= 0 && !ctx.user.admin) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `jobs.${raised}.priority: priority above 0 is for admins only`,
      });
    }
    const jobs = input.jobs.map((job, item) => withCallKey(job, ctx.callId, batchIndex, item));
    return ctx.service.submitMany(jobs, ctx.user);
  }),

  get: publicProcedure.input(jobIdInput).query(({ ctx, input }) => ownJob(ctx, input.jobId)),

  list: publicProcedure.input(listJobsInput).query(async ({ ctx, input }) => {
    // A user lists their own jobs; an admin everyone's, or one user's with `owner`.
    if (!ctx.user.admin && input.owner !== undefined && input.owner !== ctx.user.name) {
      // Ignored, it would answer "carol's jobs" with the caller's own.
      throw new TRPCError({ code: "FORBIDDEN", message: "owner is for admins: a user lists only their own jobs" });
    }
    // Another user's conversation is not there, as everywhere else: NOT_FOUND, not an empty page.
    if (input.conversationId) await ownConversation(ctx, input.conversationId);
    const owner = ctx.user.admin ? input.owner : ctx.user.name;
    const release = ctx.listBudget?.take(input.limit);
    try {
      const page = await ctx.store.listJobs({
        limit: input.limit,
        ...(owner !== undefined ? { owner } : {}),
        ...(input.status ? { status: input.status } : {}),
        ...(input.conversationId ? { conversationId: input.conversationId } : {}),
        ...(input.cursor ? { cursor: input.cursor } : {}),
        order: input.order,
      });
      return { items: page.items.map((record) => ctx.service.toLiveJob(record)), nextCursor: page.nextCursor };
    } finally {
      release?.();
    }
  }),

  cancel: publicProcedure.input(jobIdInput).mutation(async ({ ctx, input }) => {
    await ownJobId(ctx, input.jobId);
    return ctx.service.cancel(input.jobId, ctx.user.name);
  }),

  cancelWaiting: publicProcedure.input(cancelWaitingInput).mutation(({ ctx, input }) => {
    if (input.everyone && !ctx.user.admin) {
      throw new TRPCError({ code: "FORBIDDEN", message: "only an admin may cancel every user's waiting jobs" });
    }
    // A user may name themselves (as jobs.list lets them): their own waiting jobs, as without owner.
    if (input.owner !== undefined && input.owner !== ctx.user.name && !ctx.user.admin) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "only an admin may cancel another user's waiting jobs (owner)",
      });
    }
    return ctx.service.cancelWaiting(ctx.user, input);
  }),

  // A retry is a submission: forwarded with a call id, it makes its job once however often the call is sent.
  retry: publicProcedure.input(retryJobInput).mutation(({ ctx, input, batchIndex }) => {
    const { jobId, idempotencyKey } = withCallKey(input, ctx.callId, batchIndex);
    return ctx.service.retry(jobId, ctx.user, idempotencyKey);
  }),

  move: publicProcedure.input(moveJobInput).mutation(({ ctx, input }) => {
    if (input.global && !ctx.user.admin) {
      throw new TRPCError({ code: "FORBIDDEN", message: "only an admin may move a job ahead of the whole line" });
    }
    return ctx.service.move(input.jobId, input.to, input.global, ctx.user);
  }),

  events: publicProcedure.input(jobEventsInput).subscription(async function* ({ ctx, input, signal }) {
    try {
      yield* inSlot(ctx.subscriptions, () => jobEventStream(ctx, input, signal));
    } catch (error) {
      // Errors inside a running stream do not pass through middleware; map them here, at the edge.
      throw toTRPCError(error) ?? error;
    }
  }),
});

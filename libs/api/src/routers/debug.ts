import { chartOf, imageJobMachine, schedulerMachine } from "@anvil/job-machine";
import { TRPCError } from "@trpc/server";
import { endsAccess } from "../event-hub";
import { inspectStream } from "../inspection/inspect-stream";
import { debugListInput, inspectInput, timelineInput } from "../inspection/schemas";
import { actorsDebugView, schedulerDebugView } from "../inspection/views";
import { inSlot } from "../subscription-slots";
import { adminProcedure, publicProcedure, router, toTRPCError } from "../trpc";
import { noInput } from "../schemas";

/** What a debug procedure answers while the server runs without inspection. */
export const INSPECTION_OFF = "Inspection is off; start the server with ANVIL_INSPECT=1";

// The machines are fixed at build time, so their charts are read once.
const charts = { imageJob: chartOf(imageJobMachine), scheduler: chartOf(schedulerMachine) };

// What the machines hold (prompts, every user's jobs) is for admins only.
const inspectedProcedure = adminProcedure.use(({ ctx, next }) => {
  if (!ctx.inspector) throw new TRPCError({ code: "PRECONDITION_FAILED", message: INSPECTION_OFF });
  return next({ ctx: { inspector: ctx.inspector } });
});

/** `debug.*`: the state machines, the scheduler's line and GPUs, and the inspected actor events, for /inspect. */
export const debugRouter = router({
  chart: publicProcedure.input(noInput).query(() => charts),

  status: publicProcedure.input(noInput).query(({ ctx }) => ({
    inspection: Boolean(ctx.inspector),
    ring: ctx.inspector ? ctx.inspector.stats() : null,
  })),

  scheduler: inspectedProcedure
    .input(debugListInput)
    .query(({ ctx, input }) => schedulerDebugView(ctx.service, input.limit, ctx.inspector.dispatches.latest(50))),

  actors: inspectedProcedure
    .input(debugListInput)
    .query(({ ctx, input }) => actorsDebugView(ctx.service, ctx.inspector, input.limit)),

  timeline: inspectedProcedure.input(timelineInput).query(async ({ ctx, input }) => {
    const events = ctx.inspector.timeline(input.jobId);
    const alive = ctx.service.scheduler.holds(input.jobId);
    // Nothing kept of a job the server does not hold: a mistyped id must not read as "its events have gone".
    if (events.length === 0 && !alive) await ctx.service.get(input.jobId);
    const truncated = ctx.inspector.truncated(input.jobId);
    const dispatch = ctx.inspector.dispatches.of(input.jobId) ?? null;
    // Where `debug.inspect` for this job goes on from: read with the events, and naming this server process, so that
    // a page that resumes after a restart is told to reload rather than handed another process's events by number.
    const lastEventId = ctx.inspector.eventId(ctx.inspector.latestSeq);
    return { jobId: input.jobId, alive, truncated, dispatch, events, lastEventId };
  }),

  inspect: inspectedProcedure.input(inspectInput).subscription(async function* ({ ctx, input, signal }) {
    // The admin check ran when the stream opened: an admin removed (or signed out) meanwhile must stop hearing every
    // user's jobs.
    const revoked = new AbortController();
    // The server's own listener: not one of the `jobs.events` subscriptions that /metrics counts.
    const unsubscribe = ctx.events.subscribe(
      (message) => {
        if (endsAccess(message, ctx.user)) revoked.abort();
      },
      { internal: true },
    );
    const until = signal ? AbortSignal.any([signal, revoked.signal]) : revoked.signal;
    try {
      // As for `debug.timeline`: a mistyped id is NOT_FOUND, not a stream that stays silent.
      const { jobId } = input;
      if (jobId && !ctx.service.scheduler.holds(jobId) && ctx.inspector.timeline(jobId).length === 0) {
        await ctx.service.get(jobId);
      }
      yield* inSlot(ctx.subscriptions, () => inspectStream(ctx.inspector, input, until));
    } catch (error) {
      // Errors inside a running stream do not pass through middleware; map them here, at the edge.
      throw toTRPCError(error) ?? error;
    } finally {
      unsubscribe();
    }
  }),
});

import { z } from "zod";
import type { InspectedState } from "../inspection/record";

// The outputs of the inspector's queries (routers/debug.ts, inspection/views.ts), for /openapi.json: what /inspect
// reads and docs/DEBUGGING.md shows as TypeScript. output-schemas.ts binds them to the router's types as it does the
// others.

const iso = z.iso.datetime({ offset: true }).describe("ISO-8601 time");
const nullableIso = iso.nullable();

const chart = z
  .object({
    id: z.string().describe('the machine\'s id: "imageJob" or "scheduler"'),
    initial: z.string().describe("the id of the state a new actor starts in"),
    states: z.array(
      z.object({
        id: z.string().describe('XState\'s dotted id, e.g. "imageJob.queued"'),
        key: z.string().describe('what a snapshot\'s state value shows, e.g. "queued"'),
        final: z.boolean(),
      }),
    ),
    transitions: z.array(
      z.object({
        source: z.string().describe("a state's id"),
        target: z.string().describe("a state's id; the source itself for a targetless transition"),
        event: z
          .string()
          .describe('the event type the machine reacts to; one ending in ".*" is a wildcard (xstate.done.actor.*)'),
        targetless: z.boolean().describe("it runs actions without leaving its state (job.progress)"),
        guarded: z.boolean(),
      }),
    ),
  })
  .describe("A machine's states and transitions, read from its definition")
  .meta({ id: "Chart" });

const dispatchRecord = z
  .object({
    at: iso.describe("when the job was started"),
    jobId: z.uuid(),
    owner: z.string(),
    backend: z.number().int().describe("the backend's index, from 0"),
    turn: z
      .number()
      .int()
      .nullable()
      .describe("the owner's turn counter; null for a job run out of turn (moved to the very front, or again)"),
    kind: z.enum(["turn", "affinity", "front", "again", "fifo"]),
    reason: z.string().describe('in words, e.g. "ann\'s turn: kept flux1-dev on GPU 0, passed over 1 job"'),
    model: z.string().nullable().describe("the model the job needs; null: whatever is loaded"),
    loaded: z.string().nullable().describe("the model the backend had loaded before; null: unknown"),
    switched: z.boolean().describe("the backend loads another model for this job"),
    passedOver: z.number().int().describe("how many of the owner's jobs model affinity passed over for this one"),
  })
  .describe("Why a job got a GPU")
  .meta({ id: "DispatchRecord" });

// Recursive: an atomic state's key, or an object for nested states.
const inspectedState: z.ZodType<InspectedState> = z
  .union([
    z.string(),
    z.record(
      z.string(),
      z.lazy(() => inspectedState),
    ),
  ])
  .describe('A state value: the state\'s key ("processing"), or an object for nested states')
  .meta({ id: "InspectedState" });

const inspectionRecord = z
  .object({
    seq: z.number().int().min(1).describe("increasing within one server process, from 1"),
    at: iso,
    actorId: z.string().describe('"scheduler", a job id, or "<jobId>/<child id>" for what a job invokes'),
    jobId: z.string().nullable().describe("the job it concerns; the scheduler's events about a job carry it too"),
    type: z.enum(["@xstate.event", "@xstate.snapshot", "@xstate.actor"]),
    eventType: z.string().nullable().describe("the event's type; for a snapshot, the event that caused it"),
    sourceId: z.string().nullable().describe("who sent the event; null from outside the actor system"),
    state: inspectedState.nullable().describe("a snapshot's state value; null otherwise"),
    status: z.string().nullable().describe('a snapshot\'s status: "active", "done", "error" or "stopped"'),
    payloadSummary: z
      .string()
      .nullable()
      .describe("an event as short JSON text (long strings cut, errors as name, message and fields); null otherwise"),
    contextDiff: z
      .record(z.string(), z.tuple([z.unknown(), z.unknown()]))
      .nullable()
      .describe("a snapshot's changed context keys, `{ key: [before, after] }` as short JSON; null when none"),
  })
  .describe("One kept XState inspection event")
  .meta({ id: "InspectionRecord" });

/** The inspector's queries' outputs, by path. */
export const debugOutputSchemas = {
  "debug.chart": z.object({ imageJob: chart, scheduler: chart }),
  "debug.status": z.object({
    inspection: z.boolean(),
    ring: z
      .object({
        capacity: z.number().int(),
        size: z.number().int(),
        oldestSeq: z.number().int(),
        latestSeq: z.number().int().describe("0 while nothing was recorded"),
        failures: z.number().int().describe("events the hook failed to record (should stay 0)"),
      })
      .nullable()
      .describe("the inspection ring's size and bounds; null when inspection is off"),
  }),
  "debug.scheduler": z.object({
    dispatching: z.boolean().describe("false once the server is stopping: nothing new starts"),
    paused: z.boolean().describe("an admin paused the queue (queue.pause), whether or not anyone waits"),
    blockedBy: z
      .object({
        reason: z.enum(["paused", "images-not-stored", "no-healthy-backend", "all-backends-busy", "dispatch-pending"]),
        message: z.string(),
      })
      .nullable()
      .describe("why the first in line waits; null when nothing waits"),
    queued: z.number().int().describe("how many jobs wait in all; `queue` stops at `limit`"),
    queue: z.array(
      z.object({
        jobId: z.uuid(),
        position: z.number().int().min(1),
        attempt: z.number().int().min(1),
        prompt: z.string().describe("cut at 200 characters"),
        createdAt: nullableIso,
        waitingMs: z.number().nullable(),
        passedOver: z
          .number()
          .int()
          .describe("how many times model affinity let a later job of its owner go first (bounded)"),
      }),
    ),
    permits: z.object({ total: z.number().int(), held: z.number().int(), free: z.number().int() }),
    backends: z.array(
      z.object({
        index: z.number().int(),
        url: z.string(),
        healthy: z.boolean(),
        lastError: z.string().nullable(),
        jobId: z.uuid().nullable().describe("the job the scheduler assigned to this backend"),
        since: nullableIso.describe("since when"),
        permit: z
          .object({ held: z.boolean(), since: nullableIso })
          .describe("the GPU permit: held while a generation and its clean-up on the backend run"),
        model: z.string().nullable().describe("the model loaded there as far as Anvil knows; null: unknown"),
      }),
    ),
    dispatches: z.array(dispatchRecord).describe("why the latest 50 jobs got a GPU, newest first"),
  }),
  "debug.actors": z.object({
    scheduler: z.object({
      actorId: z.string().describe('"scheduler"'),
      status: z.string(),
      dispatching: z.boolean(),
      children: z.number().int().describe("the job actors alive: the jobs started and not yet ended"),
    }),
    aliveCount: z
      .number()
      .int()
      .describe("how many jobs the scheduler holds, waiting or running; `alive` stops at `limit`"),
    states: z
      .record(z.string(), z.number().int())
      .describe("how many of all the held jobs are in each state, e.g. { queued: 998, processing: 2 }"),
    alive: z
      .array(
        z.object({
          actorId: z.string().describe("the job id"),
          jobId: z.uuid(),
          state: inspectedState,
          status: z.string().describe('the actor\'s status; "not spawned yet" for a waiting job'),
          position: z.number().int(),
          progress: z.number(),
          backend: z.number().int().nullable(),
          generated: z
            .boolean()
            .describe("its GPU gave the image and went on to the next job; the image is being stored"),
          attempt: z.number().int().min(1),
          startedAt: nullableIso,
        }),
      )
      .describe("every job on a GPU, then the waiting ones in submission order, up to `limit` in all"),
    finished: z
      .array(
        z.object({
          actorId: z.string(),
          jobId: z.uuid(),
          state: inspectedState.nullable().describe("the last state its actor was seen in"),
          status: z.string().nullable(),
          lastSeq: z.number().int(),
          lastEventAt: iso,
        }),
      )
      .describe("ended job actors still in the inspection ring, most recently active first"),
  }),
  "debug.timeline": z.object({
    jobId: z.uuid(),
    alive: z.boolean().describe("the scheduler holds the job: waiting or running"),
    truncated: z
      .boolean()
      .describe(
        "some of its events have left the ring, none is kept, or it ran before this server took it into the line",
      ),
    dispatch: dispatchRecord.nullable().describe("why it last started, while that decision is kept (the latest 200)"),
    events: z.array(inspectionRecord).describe("oldest first"),
    lastEventId: z.string().describe('"<process>:<seq>": where debug.inspect for this job goes on from'),
  }),
} satisfies Record<string, z.ZodType>;

import { DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { LineChange } from "@anvil/job-machine";
import type { JobRecord } from "@anvil/persistence";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Estimates, PLACED_JOBS } from "./estimates";
import type { EstimateSources } from "./estimates";

const T0 = Date.parse("2030-01-01T00:00:00.000Z");
const CHECKPOINTS = [null, "flux", "sdxl"] as const;

const record = (id: string, fields: Partial<JobRecord> & { steps?: number; checkpoint?: string | null }): JobRecord => {
  const { steps = 20, checkpoint = null, ...rest } = fields;
  return {
    id,
    conversationId: "c",
    messageId: `m-${id}`,
    status: "queued",
    progress: 0,
    prompt: id,
    params: { ...DEFAULT_JOB_PARAMS, width: 512, height: 512, steps, checkpoint },
    imageUrl: null,
    usedSeed: null,
    error: null,
    createdAt: new Date(T0).toISOString(),
    startedAt: null,
    finishedAt: null,
    owner: "local",
    priority: 0,
    attempt: 1,
    backend: null,
    callbackUrl: null,
    cancelledBy: null,
    movedBy: null,
    seq: 0,
    attempts: 0,
    spared: 0,
    lastEventId: 0,
    line: { move: null, front: null, turn: null, place: null },
    ...rest,
  };
};

/** Finished runs on each backend: what the model learns GPU time from. */
const history = (backends: readonly string[]): JobRecord[] =>
  backends.flatMap((backend, b) =>
    [10, 20, 40].map((steps, i) => {
      const startedAt = T0 - 600_000 + (b * 3 + i) * 60_000;
      return record(`done-${b}-${i}`, {
        status: "complete",
        steps,
        backend,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(startedAt + steps * (100 + 50 * b)).toISOString(),
      });
    }),
  );

type Op =
  | { kind: "append"; steps: number; checkpoint: number }
  | { kind: "insert"; at: number; steps: number; checkpoint: number }
  | { kind: "remove"; at: number }
  | { kind: "ask"; at: number }
  | { kind: "later" };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("append" as const),
      steps: fc.integer({ min: 1, max: 50 }),
      checkpoint: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      steps: fc.integer({ min: 1, max: 50 }),
      checkpoint: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("remove" as const), at: fc.nat() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("ask" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: "later" as const }) },
);

describe("Estimates", () => {
  it("gives a job that joined the end of the line exactly what a projection of the whole line gives", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ healthy: fc.boolean(), running: fc.boolean(), model: fc.nat(2) }), {
          minLength: 1,
          maxLength: 3,
        }),
        fc.array(op, { maxLength: 60 }),
        // How many waiting jobs a projection places one by one: as many as the line ever holds here, or a few (the
        // rest estimated at the pace of the last ones).
        fc.constantFrom(PLACED_JOBS, 1, 4),
        (slots, ops, placed) => {
          let now = T0;
          const urls = slots.map((_, i) => `http://gpu-${i}`);
          const records = new Map<string, JobRecord>();
          const line: string[] = [];
          const running = slots.map((slot, i) => {
            if (!slot.running) return null;
            const job = record(`run-${i}`, {
              status: "processing",
              backend: urls[i],
              startedAt: new Date(T0 - 1_000).toISOString(),
            });
            records.set(job.id, job);
            return job.id;
          });
          const sources: EstimateSources = {
            now: () => now,
            backends: urls,
            queue: () => ({
              held: false,
              backends: slots.map((slot, i) => ({
                healthy: slot.healthy,
                busy: running[i] !== null,
                jobId: running[i] ?? null,
                stopping: false,
                since: running[i] ? T0 - 1_000 : null,
                model: CHECKPOINTS[slot.model] ?? null,
              })),
            }),
            line: () => line,
            position: (jobId) => line.indexOf(jobId) + 1,
            record: (jobId) => records.get(jobId),
          };
          const make = () => {
            const estimates = new Estimates(sources, placed);
            estimates.learnFrom(history(urls));
            return estimates;
          };
          const estimates = make();
          const change = (c: LineChange) => estimates.lineChanged(c);
          let n = 0;
          const join = (at: number, steps: number, checkpoint: number) => {
            const job = record(`job-${n++}`, { steps, checkpoint: CHECKPOINTS[checkpoint] ?? null });
            records.set(job.id, job);
            line.splice(at, 0, job.id);
            change({ op: "insert", at: at + 1 });
            return job;
          };
          for (const step of ops) {
            if (step.kind === "append") {
              // As a submission does: joins, then its snapshot is read.
              const job = join(line.length, step.steps, step.checkpoint);
              expect(estimates.of(job)).toEqual(make().of(job));
            } else if (step.kind === "insert") {
              join(step.at % (line.length + 1), step.steps, step.checkpoint);
            } else if (step.kind === "remove" && line.length > 0) {
              const at = step.at % line.length;
              line.splice(at, 1);
              change({ op: "remove", at: at + 1 });
            } else if (step.kind === "ask" && line.length > 0) {
              const job = records.get(line[step.at % line.length]!)!;
              expect(estimates.of(job)).toEqual(make().of(job));
            } else if (step.kind === "later") {
              now += 1_000;
            }
          }
          const fresh = make();
          for (const jobId of [...line, ...running.filter((id) => id !== null)]) {
            const job = records.get(jobId)!;
            expect(estimates.of(job)).toEqual(fresh.of(job));
          }
          expect(estimates.timing()).toEqual(fresh.timing());
        },
      ),
      { numRuns: 300 },
    );
  });

  it("places the first jobs of a long line one by one, and those behind at the pace of the last stretch placed", () => {
    const urls = ["http://gpu-0"];
    const records = new Map<string, JobRecord>();
    const line = Array.from({ length: 5_000 }, (_, i) => {
      const job = record(`job-${i}`, { steps: 20 });
      records.set(job.id, job);
      return job.id;
    });
    let read = 0;
    const sources: EstimateSources = {
      now: () => T0,
      backends: urls,
      queue: () => ({
        held: false,
        backends: [{ healthy: true, busy: false, jobId: null, stopping: false, since: null, model: null }],
      }),
      line: (limit) => line.slice(0, limit),
      position: (jobId) => line.indexOf(jobId) + 1,
      record: (jobId) => {
        read++;
        return records.get(jobId);
      },
    };
    const capped = new Estimates(sources, 100);
    const exact = new Estimates(sources, Infinity);
    for (const estimates of [capped, exact]) estimates.learnFrom(history(urls));
    const last = records.get(line.at(-1)!)!;

    const far = capped.of(last);

    // One projection read the records of the jobs it placed, not of the whole line.
    expect(read).toBeLessThanOrEqual(100 + 1);
    // Jobs of one size on one GPU: the pace of the last stretch is everyone's, so the estimate is the exact one.
    expect(far).toEqual(exact.of(last));
    expect(Date.parse(far.estimatedStartAt!)).toBeGreaterThan(
      Date.parse(capped.of(records.get(line[99]!)!).estimatedStartAt!),
    );
  });
});

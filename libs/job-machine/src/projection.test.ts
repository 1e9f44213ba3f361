import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GpuTimeModel } from "./gpu-time";
import { projectLine } from "./projection";
import type { BackendState, RunningWork, WaitingWork } from "./projection";

const MP = 1_000_000;
const NOW = 1_700_000_000_000;

/** A model that has seen one run per backend: `rates[i]` ms per megapixel-step on backend i, switches `switchMs`. */
const trained = (rates: number[], switchMs?: number): GpuTimeModel => {
  const model = new GpuTimeModel();
  for (const [i, rate] of rates.entries()) {
    model.learn({ backend: `gpu-${i}`, pixels: MP, steps: 1, ms: rate, switched: false });
    if (switchMs !== undefined) {
      model.learn({ backend: `gpu-${i}`, pixels: MP, steps: 1, ms: rate + switchMs, switched: true });
    }
  }
  return model;
};

const waiting = (jobId: string, steps: number, checkpoint: string | null = null): WaitingWork => ({
  jobId,
  pixels: MP,
  steps,
  checkpoint,
});

const running = (jobId: string, steps: number, startedAt: number, progress = 0): RunningWork => ({
  ...waiting(jobId, steps),
  startedAt,
  progress,
  switched: false,
});

const idle = (i: number, healthy = true): BackendState => ({ id: `gpu-${i}`, healthy, running: null });

describe("projectLine", () => {
  it("puts each waiting job after the one before it on one backend, behind what runs", () => {
    const model = trained([1_000]);
    const { estimates, line } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 10, NOW - 4_000) }],
      line: [waiting("a", 5), waiting("b", 20), waiting("c", 1)],
    });
    expect(estimates.get("r")).toEqual({ startAt: NOW - 4_000, finishAt: NOW + 6_000 });
    expect(estimates.get("a")).toEqual({ startAt: NOW + 6_000, finishAt: NOW + 11_000 });
    expect(estimates.get("b")).toEqual({ startAt: NOW + 11_000, finishAt: NOW + 31_000 });
    expect(estimates.get("c")).toEqual({ startAt: NOW + 31_000, finishAt: NOW + 32_000 });
    expect(line).toEqual({
      starts: [NOW + 6_000, NOW + 11_000, NOW + 31_000],
      ends: [NOW + 11_000, NOW + 31_000, NOW + 32_000],
    });
  });

  it("ends each job its keep time after its backend is free, while the next job already has the backend", () => {
    const model = trained([1_000]);
    model.learn({ backend: "gpu-0", pixels: MP, steps: 1, ms: 1_000, keepMs: 150, switched: false });
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 2, NOW) }],
      line: [waiting("a", 3), waiting("b", 3)],
    });
    expect(estimates.get("r")?.finishAt).toBe(NOW + 2_150);
    expect(estimates.get("a")).toEqual({ startAt: NOW + 2_000, finishAt: NOW + 5_150 });
    expect(estimates.get("b")).toEqual({ startAt: NOW + 5_000, finishAt: NOW + 8_150 });
  });

  it("gives each job the backend that is free first, each at its own speed", () => {
    const model = trained([1_000, 2_000]);
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [idle(0), idle(1)],
      line: [waiting("a", 10), waiting("b", 10), waiting("c", 10)],
    });
    expect(estimates.get("a")).toEqual({ startAt: NOW, finishAt: NOW + 10_000 });
    expect(estimates.get("b")).toEqual({ startAt: NOW, finishAt: NOW + 20_000 });
    expect(estimates.get("c")).toEqual({ startAt: NOW + 10_000, finishAt: NOW + 20_000 });
  });

  it("adds the switch cost where the backend would have another checkpoint loaded", () => {
    const model = trained([1_000], 5_000);
    model.start("gpu-0", "flux");
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [idle(0)],
      line: [waiting("a", 1, "flux"), waiting("b", 1, null), waiting("c", 1, "sdxl"), waiting("d", 1, "sdxl")],
    });
    expect(estimates.get("a")?.finishAt).toBe(NOW + 1_000);
    expect(estimates.get("b")?.finishAt).toBe(NOW + 2_000);
    expect(estimates.get("c")?.finishAt).toBe(NOW + 8_000);
    expect(estimates.get("d")?.finishAt).toBe(NOW + 9_000);
  });

  it("gives a job the free backend that has its checkpoint, as the scheduler does, with no switch", () => {
    const model = trained([1_000, 1_000], 5_000);
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [
        { ...idle(0), loaded: "flux" },
        { ...idle(1), loaded: "sdxl" },
      ],
      line: [waiting("a", 1, "sdxl"), waiting("b", 1, "sdxl")],
    });
    expect(estimates.get("a")).toEqual({ startAt: NOW, finishAt: NOW + 1_000 });
    // b takes the other free backend at once, and loads its checkpoint there first.
    expect(estimates.get("b")).toEqual({ startAt: NOW, finishAt: NOW + 6_000 });
  });

  it("pushes a running job's end back when its progress is behind its prediction", () => {
    const model = trained([1_000]);
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 10, NOW - 8_000, 20) }],
      line: [],
    });
    // 8 s in, 20 % done: the run's pace (40 s in all) counts for 40 % against the prediction's 10 s, so it is
    // expected to take 22 s, 80 % of which is left.
    expect(estimates.get("r")?.finishAt).toBe(NOW + 17_600);
  });

  it("ends a running job far behind its prediction when its own pace says, from halfway", () => {
    // The model expects 6 s; the run is ten times slower: 36 s in, 60 % done.
    const model = trained([600]);
    const { estimates, line } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 10, NOW - 36_000, 60) }],
      line: [waiting("a", 1)],
    });
    expect(estimates.get("r")?.finishAt).toBe(NOW + 24_000);
    // The line behind it waits for it.
    expect(line?.starts).toEqual([NOW + 24_000]);
  });

  it("counts a running job's pace from the end of the checkpoint load the model foresaw", () => {
    // 10 s of sampling predicted after a checkpoint load; the load and then 5 s of sampling gone, half done: on time.
    const model = trained([1_000], 5_000);
    const switching = { ...running("r", 10, NOW - 10_000, 50), switched: true };
    const total = model.predict("gpu-0", switching, true);
    const base = model.predict("gpu-0", switching, false);
    expect(total! - base!).toBeGreaterThan(0);
    const { estimates } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: { ...switching, startedAt: NOW - (total! - base!) - 5_000 } }],
      line: [],
    });
    expect(estimates.get("r")?.finishAt).toBe(NOW + 5_000);
  });

  it("brings a running job's end forward when its progress is ahead of its prediction", () => {
    // The model expects 10 s (learned from other sizes); 2 s in, the job is half done.
    const model = trained([1_000]);
    const { estimates, line } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 10, NOW - 2_000, 50) }],
      line: [waiting("a", 1)],
    });
    expect(estimates.get("r")?.finishAt).toBe(NOW + 2_000);
    // The line behind it moves forward with it.
    expect(line?.starts).toEqual([NOW + 2_000]);
  });

  it.each([
    ["the queue is paused", { held: true }],
    ["no backend is healthy", { backends: [idle(0, false)] }],
  ])("knows no start while %s, but still when a running job ends", (_, change) => {
    const model = trained([1_000]);
    const busy = { id: "gpu-1", healthy: true, running: running("r", 3, NOW) };
    const { estimates, line } = projectLine(model, {
      now: NOW,
      held: false,
      backends: [idle(0), busy],
      line: [waiting("a", 1)],
      ...change,
    });
    expect(estimates.get("a")).toEqual({ startAt: null, finishAt: null });
    expect(line).toBeNull();
    if (!("backends" in change)) expect(estimates.get("r")?.finishAt).toBe(NOW + 3_000);
  });

  it("knows nothing while the model has learned nothing", () => {
    const { estimates, line } = projectLine(new GpuTimeModel(), {
      now: NOW,
      held: false,
      backends: [{ id: "gpu-0", healthy: true, running: running("r", 3, NOW) }],
      line: [waiting("a", 1)],
    });
    expect(estimates.get("r")).toEqual({ startAt: NOW, finishAt: null });
    expect(estimates.get("a")).toEqual({ startAt: null, finishAt: null });
    expect(line).toBeNull();
  });

  it("agrees with a step-by-step run of the dispatch loop, and its starts never go back", () => {
    const scenario = fc.record({
      rates: fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 1, maxLength: 4 }),
      busy: fc.array(fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: null }), { minLength: 4, maxLength: 4 }),
      healthy: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      steps: fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 40 }),
    });
    fc.assert(
      fc.property(scenario, ({ rates, busy, healthy, steps }) => {
        const model = trained(rates);
        const backends: BackendState[] = rates.map((_, i) => {
          const elapsed = busy[i];
          return {
            id: `gpu-${i}`,
            healthy: healthy[i] ?? true,
            running: elapsed == null ? null : running(`r${i}`, 30, NOW - elapsed),
          };
        });
        const line = steps.map((n, i) => waiting(`j${i}`, n));
        const projection = projectLine(model, { now: NOW, held: false, backends, line });
        const { estimates } = projection;
        if (!backends.some((b) => b.healthy)) return projection.line === null;

        // The scheduler's loop: whenever a backend frees, the free healthy ones take the next jobs, lowest index first.
        const busyUntil = backends.map((b, i) =>
          b.running ? Math.max(NOW, b.running.startedAt + 30 * (rates[i] ?? 0)) : NOW,
        );
        const expected = new Map<string, [number, number]>();
        let next = 0;
        let clock = NOW;
        while (next < line.length) {
          for (const [i, b] of backends.entries()) {
            const job = line[next];
            if (!b.healthy || (busyUntil[i] ?? 0) > clock || !job) continue;
            const end = clock + job.steps * (rates[i] ?? 0);
            expected.set(job.jobId, [clock, end]);
            busyUntil[i] = end;
            next++;
          }
          clock = Math.min(...busyUntil.filter((_, i) => backends[i]?.healthy).filter((t) => t > clock));
        }
        for (const job of line) {
          const estimate = estimates.get(job.jobId);
          expect([estimate?.startAt, estimate?.finishAt]).toEqual(expected.get(job.jobId));
        }
        const order = projection.line?.starts ?? [];
        for (let i = 1; i < order.length; i++) expect(order[i]).toBeGreaterThanOrEqual(order[i - 1] ?? Infinity);
        return true;
      }),
    );
  });
});

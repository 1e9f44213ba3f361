import { describe, expect, it } from "vitest";
import { GpuTimeModel, measureRun } from "./gpu-time";
import type { GpuRun } from "./gpu-time";

const MP = 1024 * 1024;
const gpu = "http://gpu-1";
const run = (overrides: Partial<GpuRun> = {}): GpuRun => ({
  backend: gpu,
  pixels: MP,
  steps: 20,
  ms: 10_000,
  switched: false,
  ...overrides,
});

describe("GpuTimeModel", () => {
  it("predicts nothing until a run has finished", () => {
    const model = new GpuTimeModel();
    expect(model.known).toBe(false);
    expect(model.predict(gpu, { pixels: MP, steps: 20 })).toBeNull();
    model.learn(run());
    expect(model.known).toBe(true);
    expect(model.predict(gpu, { pixels: MP, steps: 20 })).toBeCloseTo(10_000);
  });

  it("scales one run by pixels × steps for a shape it has not seen", () => {
    const model = new GpuTimeModel();
    model.learn(run({ pixels: MP, steps: 20, ms: 10_000 }));
    expect(model.predict(gpu, { pixels: 4 * MP, steps: 40 })).toBeCloseTo(80_000);
    expect(model.predict(gpu, { pixels: MP / 4, steps: 10 })).toBeCloseTo(1_250);
  });

  it("lets runs of the same shape decide over runs of another shape", () => {
    const model = new GpuTimeModel();
    // Small jobs cost more per megapixel-step (a fixed overhead): each shape keeps its own.
    for (let i = 0; i < 5; i++) {
      model.learn(run({ pixels: MP / 4, steps: 4, ms: 2_000 }));
      model.learn(run({ pixels: MP, steps: 30, ms: 15_000 }));
    }
    expect(model.predict(gpu, { pixels: MP / 4, steps: 4 })).toBeGreaterThan(1_900);
    expect(model.predict(gpu, { pixels: MP / 4, steps: 4 })).toBeLessThan(2_100);
    expect(model.predict(gpu, { pixels: MP, steps: 30 })).toBeGreaterThan(14_500);
    expect(model.predict(gpu, { pixels: MP, steps: 30 })).toBeLessThan(15_500);
  });

  it("lets runs of the same checkpoint decide, scaling from another model only while it has none", () => {
    const model = new GpuTimeModel();
    model.learn(run({ checkpoint: "flux", ms: 10_000 }));
    expect(model.predict(gpu, { pixels: MP, steps: 20, checkpoint: "sdxl" })).toBe(10_000);
    model.learn(run({ checkpoint: "sdxl", ms: 3_000 }));
    model.learn(run({ checkpoint: "flux", ms: 10_000 }));
    expect(model.predict(gpu, { pixels: MP, steps: 20, checkpoint: "sdxl" })).toBe(3_000);
    expect(model.predict(gpu, { pixels: MP, steps: 20, checkpoint: "flux" })).toBe(10_000);
  });

  it("follows a backend that got slower, recent runs counting most", () => {
    const model = new GpuTimeModel({ halfLife: 4 });
    for (let i = 0; i < 20; i++) model.learn(run({ ms: 10_000 }));
    for (let i = 0; i < 12; i++) model.learn(run({ ms: 20_000 }));
    const predicted = model.predict(gpu, { pixels: MP, steps: 20 }) ?? 0;
    expect(predicted).toBeGreaterThan(18_500);
    expect(predicted).toBeLessThanOrEqual(20_000);
  });

  it("is not moved by one odd run, such as the slow first one after a start", () => {
    const model = new GpuTimeModel();
    model.learn(run({ ms: 27_000 }));
    model.learn(run({ ms: 9_000 }));
    model.learn(run({ ms: 8_000 }));
    expect(model.predict(gpu, { pixels: MP, steps: 20 })).toBe(9_000);
  });

  it("caps one run far off the prediction, so a stalled run does not throw every estimate off", () => {
    const model = new GpuTimeModel();
    for (let i = 0; i < 3; i++) model.learn(run({ ms: 10_000 }));
    model.learn(run({ ms: 10_000_000 }));
    expect(model.predict(gpu, { pixels: MP, steps: 20 })).toBeLessThan(40_000);
  });

  it("learns the checkpoint switch cost from runs that switched, and adds it only to a job that switches", () => {
    const model = new GpuTimeModel();
    model.learn(run({ ms: 10_000 }));
    model.learn(run({ ms: 16_000, switched: true }));
    expect(model.switchMs(gpu)).toBeCloseTo(6_000);
    // The switched run taught the switch, not the sampling time.
    expect(model.predict(gpu, { pixels: MP, steps: 20 }, false)).toBeCloseTo(10_000);
    expect(model.predict(gpu, { pixels: MP, steps: 20 }, true)).toBeCloseTo(16_000);
  });

  it("borrows other backends' runs for a backend that has none yet", () => {
    const model = new GpuTimeModel();
    model.learn(run({ backend: "http://gpu-1", ms: 10_000 }));
    model.learn(run({ backend: "http://gpu-1", ms: 13_000, switched: true }));
    expect(model.predict("http://gpu-2", { pixels: MP, steps: 20 })).toBeCloseTo(10_000);
    expect(model.switchMs("http://gpu-2")).toBeCloseTo(3_000);
    model.learn(run({ backend: "http://gpu-2", ms: 5_000 }));
    expect(model.predict("http://gpu-2", { pixels: MP, steps: 20 })).toBeCloseTo(5_000);
  });

  it("tells a start that needs another checkpoint, once it knows what the backend has loaded", () => {
    const model = new GpuTimeModel();
    expect(model.start(gpu, "flux")).toBeNull();
    expect(model.loaded(gpu)).toBe("flux");
    expect(model.start(gpu, null)).toBe(false);
    expect(model.start(gpu, "flux")).toBe(false);
    expect(model.start(gpu, "sdxl")).toBe(true);
    expect(model.loaded(gpu)).toBe("sdxl");
  });

  it("learns how long a job takes to end once its backend is free, across backends", () => {
    const model = new GpuTimeModel();
    expect(model.keepMs).toBe(0);
    model.learn(run({ keepMs: 100 }));
    model.learn(run({ backend: "http://gpu-2", keepMs: 200, ms: 5_000 }));
    expect(model.keepMs).toBe(130);
  });
});

describe("measureRun", () => {
  it("ends a run's GPU time where the next job got its backend, and counts the rest as keeping its image", () => {
    expect(measureRun(1_000, 5_000, 4_800)).toEqual({ ms: 3_800, keepMs: 200 });
  });

  it("takes the whole run when nobody was waiting for its backend", () => {
    expect(measureRun(1_000, 5_000, null)).toEqual({ ms: 4_000, keepMs: null });
    expect(measureRun(1_000, 5_000, 9_000)).toEqual({ ms: 4_000, keepMs: null });
  });
});

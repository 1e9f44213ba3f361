import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { GpuPool } from "./gpu-pool";

describe("GpuPool", () => {
  it("serialises work on one backend even when it is all started at once", async () => {
    const pool = GpuPool.makeSync(1);
    let active = 0;
    let maxActive = 0;
    const work = pool.withGpu(0)(
      Effect.gen(function* () {
        maxActive = Math.max(maxActive, ++active);
        yield* Effect.sleep(2);
        active--;
      }),
    );
    await Effect.runPromise(
      Effect.all(
        Array.from({ length: 10 }, () => work),
        { concurrency: "unbounded" },
      ),
    );
    expect(maxActive).toBe(1);
  });

  it("releases the permit when the work fails or is interrupted", async () => {
    const pool = GpuPool.makeSync(1);
    await Effect.runPromise(Effect.flip(pool.withGpu(0)(Effect.fail("boom"))));
    expect(pool.slots()[0]?.busy).toBe(false);
    const controller = new AbortController();
    let holding: () => void = () => {};
    const held = new Promise<void>((resolve) => (holding = resolve));
    const work = Effect.sync(() => holding()).pipe(Effect.andThen(Effect.never));
    const running = Effect.runPromise(pool.withGpu(0)(work), { signal: controller.signal });
    await held;
    expect(pool.slots()[0]?.busy).toBe(true);
    controller.abort();
    await running.catch(() => undefined);
    await Effect.runPromise(pool.drain);
    expect(pool.slots()[0]?.busy).toBe(false);
  });

  it("runs different backends in parallel", async () => {
    const pool = GpuPool.makeSync(2);
    let active = 0;
    let maxActive = 0;
    const work = (i: number) =>
      pool.withGpu(i)(
        Effect.gen(function* () {
          maxActive = Math.max(maxActive, ++active);
          yield* Effect.sleep(5);
          active--;
        }),
      );
    await Effect.runPromise(Effect.all([work(0), work(1)], { concurrency: "unbounded" }));
    expect(maxActive).toBe(2);
  });
});

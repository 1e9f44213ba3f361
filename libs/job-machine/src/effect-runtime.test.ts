import { Context, Effect, Layer, ManagedRuntime } from "effect";
import { describe, expect, it } from "vitest";
import type { EffectRuntime } from "./effect-runtime";
import { testScheduler } from "./test-support";

/** Which runtime a program ran on: the one given provides "given", any other the default. */
const Marker = Context.Reference<string>("anvil/test/Marker", { defaultValue: () => "default runtime" });

describe("the Effect runtime", () => {
  it("runs a scheduler's generations on the runtime it is given", async () => {
    const runtime: EffectRuntime = ManagedRuntime.make(Layer.succeed(Marker, "the given runtime"));
    const seen: string[] = [];
    const { submit } = testScheduler(
      () =>
        Effect.gen(function* () {
          seen.push(yield* Marker);
          return Effect.succeed({ imageUrl: "/images/a.png", usedSeed: 1 });
        }),
      { runtime },
    );
    expect(await submit("a")).toBe("complete");
    expect(seen).toEqual(["the given runtime"]);
    await runtime.dispose();
  });

  it("runs them on the shared default runtime when given none", async () => {
    const seen: string[] = [];
    const { submit } = testScheduler(() =>
      Effect.gen(function* () {
        seen.push(yield* Marker);
        return Effect.succeed({ imageUrl: "/images/b.png", usedSeed: 1 });
      }),
    );
    expect(await submit("b")).toBe("complete");
    expect(seen).toEqual(["default runtime"]);
  });
});

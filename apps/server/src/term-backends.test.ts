import { Effect } from "effect";
import { describe, expect, it } from "vitest";
import { termBackends } from "./term-backends";

describe("termBackends", () => {
  it("aborts the calls in flight when the term ends, and holds on to none of those that ended", async () => {
    const signals: AbortSignal[] = [];
    let answer = true;
    const fetch: typeof globalThis.fetch = (_input, init) => {
      const signal = init!.signal!;
      signals.push(signal);
      if (answer) return Promise.resolve(Response.json({ progress: 0, state: { job_count: 0 } }));
      return new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
    };
    const { clients, end } = termBackends(["http://127.0.0.1:9"], fetch);
    const client = clients[0]!;
    for (let i = 0; i < 100; i++) await Effect.runPromise(Effect.ignore(client.progress()));
    const ended = signals.splice(0);
    answer = false;
    const inFlight = Effect.runPromise(Effect.ignore(client.progress()));
    await new Promise((resolve) => setTimeout(resolve, 10));
    end();
    await inFlight;
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    // Unlinked from the term once answered: the term's end reaches them no more (nor does it keep them).
    expect(ended.some((signal) => signal.aborted)).toBe(false);
  });

  it("holds many calls in flight at once without Node's warning of a leak", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => void warnings.push(warning.name);
    process.on("warning", onWarning);
    try {
      // A generation waits for its image while probes, polls and the catalog's reads come and go beside it.
      const fetch: typeof globalThis.fetch = (_input, init) =>
        new Promise((_, reject) => init!.signal!.addEventListener("abort", () => reject(init!.signal!.reason)));
      const { clients, end } = termBackends(["http://127.0.0.1:9"], fetch);
      const calls = Array.from({ length: 20 }, () => Effect.runPromise(Effect.ignore(clients[0]!.progress())));
      await new Promise((resolve) => setTimeout(resolve, 20));
      end();
      await Promise.all(calls);
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).not.toContain("MaxListenersExceededWarning");
  });
});

import { describe, expect, it } from "vitest";
import { dueClock } from "./estimate";
import type { DueMemory } from "./estimate";

const T0 = Date.parse("2025-01-01T10:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

/** A memory that outlives the clocks reading it, as a page's storage outlives a reload. */
const sharedMemory = (): DueMemory & { value: number | null } => ({
  value: null,
  read() {
    return this.value;
  },
  write(dueSince) {
    this.value = dueSince;
  },
});

describe("dueClock", () => {
  it("answers since when it has seen an estimate due, and null once a new one is to come", () => {
    const due = dueClock();
    expect(due(iso(T0 + 60_000), T0)).toBeNull();
    expect(due(iso(T0 + 1_000), T0)).toBe(T0);
    // The server keeps a late estimate at "now": it stays due since the first time.
    expect(due(iso(T0 + 40_000), T0 + 40_000)).toBe(T0);
    expect(due(null, T0 + 41_000)).toBeNull();
    expect(due(iso(T0 + 42_000), T0 + 42_000)).toBe(T0 + 42_000);
  });

  it("goes on from the memory it is given: a new clock over it knows since when the last one saw it due", () => {
    const memory = sharedMemory();
    expect(dueClock(memory)(iso(T0), T0)).toBe(T0);
    // A reload, or another tab: a new clock, the same memory.
    expect(dueClock(memory)(iso(T0 + 40_000), T0 + 40_000)).toBe(T0);
    // A new estimate to come clears it for every clock over it.
    expect(dueClock(memory)(iso(T0 + 120_000), T0 + 41_000)).toBeNull();
    expect(memory.value).toBeNull();
  });

  it("takes a remembered time still to come for none, and counts from now", () => {
    const memory = sharedMemory();
    memory.value = T0 + 3_600_000;
    expect(dueClock(memory)(iso(T0), T0)).toBe(T0);
    expect(memory.value).toBe(T0);
  });
});

import { render, screen } from "@solidjs/testing-library";
import { For } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeJob } from "../lib/test-support";
import { Estimate } from "./estimate";

describe("<Estimate> in a deep conversation", () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse("2025-01-01T10:00:00.000Z") }));
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("ticks 1,000 waiting cards' estimates with one timer, not one each, and still counts down", () => {
    const interval = vi.spyOn(globalThis, "setInterval");
    const jobs = Array.from({ length: 1_000 }, (_, i) =>
      makeJob({ id: `job-${i}`, status: "queued", queuePosition: i + 1 }),
    );
    const at = new Date(Date.now() + 10_000).toISOString();
    const view = render(() => <For each={jobs}>{(job) => <Estimate kind="start" at={at} job={job} />}</For>);
    expect(interval.mock.calls.length).toBeLessThanOrEqual(1);
    expect(screen.getAllByText("starts in ~10 s")).toHaveLength(1_000);
    vi.advanceTimersByTime(5_000);
    expect(screen.getAllByText("starts in ~5 s")).toHaveLength(1_000);
    view.unmount();
    // The last card gone, the shared clock stops.
    expect(vi.getTimerCount()).toBe(0);
  });
});

import { render, screen } from "@solidjs/testing-library";
import { createSignal, For } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DueJob } from "../lib/due-memory";
import { makeJob } from "../lib/test-support";
import { Estimate } from "./estimate";

const running = makeJob({ status: "processing", queuePosition: 0, startedAt: "2025-01-01T09:59:00.000Z" });

/** A running job's card whose estimate the server keeps at "now", sent again every second, as for a job that runs over. */
function overdueEstimate(job: DueJob = running) {
  const [at, setAt] = createSignal(new Date().toISOString());
  const timer = setInterval(() => setAt(new Date().toISOString()), 1_000);
  const view = render(() => <Estimate kind="finish" at={at()} job={job} />);
  return {
    /** The card goes, as on a reload: nothing of the page is left but what it stored. */
    unmount: () => {
      clearInterval(timer);
      view.unmount();
    },
  };
}

describe("<Estimate>", () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse("2025-01-01T10:00:00.000Z") }));
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("says a job is late once its estimate, kept at 'now' by the server, has been due for half a minute", () => {
    const [at, setAt] = createSignal(new Date(Date.now() + 10_000).toISOString());
    render(() => <Estimate kind="finish" at={at()} job={running} />);
    expect(screen.getByText("ready in ~10 s")).toBeInTheDocument();
    // Due, then refreshed to "now" every second, as the server sends it for a job that runs over.
    for (let second = 0; second < 40; second++) {
      vi.advanceTimersByTime(1_000);
      if (Date.now() >= Date.parse(at())) setAt(new Date(Date.now()).toISOString());
    }
    expect(screen.getByText("taking longer than expected")).toBeInTheDocument();
    // A new estimate in the future counts down again.
    setAt(new Date(Date.now() + 60_000).toISOString());
    vi.advanceTimersByTime(1_000);
    expect(screen.getByText("ready in ~1 min")).toBeInTheDocument();
  });

  it("counts the half minute from when the job was first due, not from a reload", () => {
    const before = overdueEstimate();
    expect(screen.getByText("ready any moment")).toBeInTheDocument();
    vi.advanceTimersByTime(20_000);
    before.unmount();

    overdueEstimate();
    expect(screen.getByText("ready any moment")).toBeInTheDocument();
    vi.advanceTimersByTime(10_000);
    expect(screen.getByText("taking longer than expected")).toBeInTheDocument();
  });

  it("says a job that was late before a reload is late straight after it", () => {
    const before = overdueEstimate();
    vi.advanceTimersByTime(40_000);
    expect(screen.getByText("taking longer than expected")).toBeInTheDocument();
    before.unmount();

    overdueEstimate();
    expect(screen.getByText("taking longer than expected")).toBeInTheDocument();
  });

  it("gives a job run again (a later start) its own half minute", () => {
    const before = overdueEstimate();
    vi.advanceTimersByTime(40_000);
    before.unmount();

    overdueEstimate({ ...running, startedAt: new Date().toISOString() });
    expect(screen.getByText("ready any moment")).toBeInTheDocument();
  });

  it.each([
    ["off (a blocked site's storage)", ["getItem", "setItem", "removeItem"] as const],
    ["full (or private mode)", ["setItem"] as const],
  ])("remembers for as long as the page lives when storage is %s", (_, failing) => {
    for (const method of failing) {
      vi.spyOn(Storage.prototype, method).mockImplementation(() => {
        throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
      });
    }
    overdueEstimate();
    expect(screen.getByText("ready any moment")).toBeInTheDocument();
    vi.advanceTimersByTime(30_000);
    expect(screen.getByText("taking longer than expected")).toBeInTheDocument();
  });

  it("ticks 300 waiting cards' estimates with one timer, not one each, and still counts down", () => {
    const interval = vi.spyOn(globalThis, "setInterval");
    const jobs = Array.from({ length: 300 }, (_, i) =>
      makeJob({ id: `job-${i}`, status: "queued", queuePosition: i + 1 }),
    );
    const at = new Date(Date.now() + 10_000).toISOString();
    const view = render(() => <For each={jobs}>{(job) => <Estimate kind="start" at={at} job={job} />}</For>);
    expect(interval.mock.calls.length).toBeLessThanOrEqual(1);
    expect(screen.getAllByText("starts in ~10 s")).toHaveLength(300);
    vi.advanceTimersByTime(5_000);
    expect(screen.getAllByText("starts in ~5 s")).toHaveLength(300);
    view.unmount();
    // The last card gone, the shared clock stops.
    expect(vi.getTimerCount()).toBe(0);
  });
});

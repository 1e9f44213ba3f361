import { render, screen } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Estimate } from "./estimate";

describe("<Estimate>", () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.parse("2025-01-01T10:00:00.000Z") }));
  afterEach(() => vi.useRealTimers());

  it("says a job is late once its estimate, kept at 'now' by the server, has been due for half a minute", () => {
    const [at, setAt] = createSignal(new Date(Date.now() + 10_000).toISOString());
    render(() => <Estimate kind="finish" at={at()} />);
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
});

import { fireEvent, render, screen, within } from "@solidjs/testing-library";
import { describe, expect, it, vi } from "vitest";
import { SchedulerPanel } from "./scheduler-panel";
import type { SchedulerView } from "./types";

const [running, first, second] = [
  "0caf03d2-bbb7-45be-8b7b-3efd4c0ca857",
  "3e225f9a-9fc2-4ecc-ac66-82a02950b46c",
  "f0889482-1c2d-4e6f-8a9b-1c2d3e4f5a6b",
];
const since = new Date(Date.now() - 4_000).toISOString();

const view: SchedulerView = {
  dispatching: true,
  paused: false,
  blockedBy: {
    reason: "all-backends-busy",
    message: "Every healthy backend runs a job; the first in line starts when one of them finishes",
  },
  queued: 2,
  queue: [
    { jobId: first, position: 1, attempt: 1, prompt: "a red fox", createdAt: since, waitingMs: 4_000, passedOver: 0 },
    {
      jobId: second,
      position: 2,
      attempt: 2,
      prompt: "a bowl of ramen",
      createdAt: since,
      waitingMs: 4_000,
      passedOver: 2,
    },
  ],
  permits: { total: 2, held: 1, free: 1 },
  backends: [
    {
      index: 0,
      url: "http://gpu-a:7860",
      healthy: true,
      lastError: null,
      jobId: running,
      since,
      permit: { held: true, since },
      model: "flux1-dev.safetensors [1a2b3c4d5e]",
    },
    {
      index: 1,
      url: "http://gpu-b:7860",
      healthy: false,
      lastError: "connect ECONNREFUSED",
      jobId: null,
      since: null,
      permit: { held: false, since: null },
      model: null,
    },
  ],
  dispatches: [
    {
      at: since,
      jobId: running,
      owner: "ann",
      backend: 0,
      turn: 7,
      kind: "affinity",
      reason: "ann's turn: kept flux1-dev on GPU 0, passed over 1 job",
      model: "flux1-dev.safetensors [1a2b3c4d5e]",
      loaded: "flux1-dev.safetensors [1a2b3c4d5e]",
      switched: false,
      passedOver: 1,
    },
  ],
};

describe("<SchedulerPanel>", () => {
  it("says why the first in line waits", () => {
    render(() => <SchedulerPanel view={view} prompts={{}} onSelect={() => undefined} />);
    expect(screen.getByText(/first in line starts when one of them finishes/)).toHaveAttribute(
      "data-reason",
      "all-backends-busy",
    );
  });

  it("says the queue is paused by an admin, also while nobody waits", () => {
    const paused: SchedulerView = { ...view, paused: true, blockedBy: null, queued: 0, queue: [] };
    render(() => <SchedulerPanel view={paused} prompts={{}} onSelect={() => undefined} />);
    const panel = screen.getByRole("complementary", { name: "Scheduler" });
    expect(panel).toHaveTextContent("paused by an admin");
    expect(panel).not.toHaveTextContent(/\bdispatching\b/);
    expect(screen.getByRole("status")).toHaveTextContent(/an admin paused the queue \(queue\.pause\)/);
  });

  it("lists the queue in order with positions, and selects a job from it", () => {
    const onSelect = vi.fn();
    render(() => <SchedulerPanel view={view} prompts={{}} onSelect={onSelect} />);
    const entries = within(screen.getByRole("list", { name: "Queue in order" })).getAllByRole("listitem");
    expect(entries.map((e) => e.textContent)).toEqual([
      expect.stringMatching(/^#1a red fox3e225f9a · waiting 0:0\d$/),
      expect.stringMatching(/^#2a bowl of ramenf0889482 · waiting 0:0\d · attempt 2 · passed over 2×$/),
    ]);
    fireEvent.click(within(entries[1]!).getByRole("button", { name: "a bowl of ramen" }));
    expect(onSelect).toHaveBeenCalledWith(second);
  });

  it("shows the permits held and free, and which job holds which backend since when", () => {
    render(() => <SchedulerPanel view={view} prompts={{ [running]: "a lighthouse" }} onSelect={() => undefined} />);
    expect(screen.getByTestId("permits")).toHaveTextContent("1 held · 1 free of 2");
    const [busy, down] = [...document.querySelectorAll("[data-backend]")];
    expect(busy).toHaveTextContent("GPU 0 gpu-a:7860");
    expect(busy).toHaveTextContent("permit held");
    expect(within(busy as HTMLElement).getByRole("button", { name: "a lighthouse" })).toBeInTheDocument();
    expect(busy).toHaveTextContent(/assigned \d\d:\d\d:\d\d \(0:0\d ago\)/);
    expect(busy).toHaveTextContent(/permit held since \d\d:\d\d:\d\d/);
    expect(down).toHaveTextContent("unreachable");
    expect(down).toHaveTextContent("No job assigned");
    expect(down).toHaveTextContent("connect ECONNREFUSED");
    expect(busy).toHaveTextContent("model loaded: flux1-dev");
    expect(down).not.toHaveTextContent("model loaded");
  });

  it("says why the latest jobs got a GPU, and selects a job from there", () => {
    const onSelect = vi.fn();
    render(() => <SchedulerPanel view={view} prompts={{ [running]: "a lighthouse" }} onSelect={onSelect} />);
    const decisions = within(screen.getByRole("list", { name: "Dispatch decisions, newest first" })).getAllByRole(
      "listitem",
    );
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toHaveAttribute("data-kind", "affinity");
    expect(decisions[0]).toHaveTextContent(
      /^\d\d:\d\d:\d\d · GPU 0 · a lighthouseann's turn: kept flux1-dev on GPU 0, passed over 1 job$/,
    );
    fireEvent.click(within(decisions[0]!).getByRole("button", { name: "a lighthouse" }));
    expect(onSelect).toHaveBeenCalledWith(running);
  });

  it("ticks the waiting times of a long line on one timer, not one per waiting job", () => {
    vi.useFakeTimers();
    try {
      const queue = Array.from({ length: 200 }, (_, i) => ({
        jobId: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        position: i + 1,
        attempt: 1,
        prompt: `job ${i}`,
        createdAt: since,
        waitingMs: 4_000,
        passedOver: 0,
      }));
      render(() => <SchedulerPanel view={{ ...view, queued: 200, queue }} prompts={{}} onSelect={() => undefined} />);
      expect(screen.getByRole("list", { name: "Queue in order" }).children).toHaveLength(200);
      // The two GPUs' "since" times tick too; the line adds one timer in all.
      expect(vi.getTimerCount()).toBeLessThan(10);
    } finally {
      vi.useRealTimers();
    }
  });
});

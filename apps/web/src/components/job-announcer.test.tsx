import { render, screen } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { createStore, produce } from "solid-js/store";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeJob } from "../lib/test-support";
import type { Job } from "../lib/types";
import { JobAnnouncer } from "./job-announcer";
import type { JobAnnouncerControl } from "./job-announcer";

const job = (n: number, overrides: Partial<Job> = {}) =>
  makeJob({ id: `job-${n}`, prompt: `prompt ${n}`, queuePosition: n, ...overrides });

/** The announcer over a live list of jobs the test changes as the stream would. */
function setup(jobs: Job[]) {
  const [store, setStore] = createStore({ jobs });
  const [conversation, setConversation] = createSignal<string | null>("c1");
  let control!: JobAnnouncerControl;
  render(() => (
    <JobAnnouncer jobs={store.jobs} conversationId={conversation()} control={(c) => (control = c)} delayMs={100} />
  ));
  const region = screen.getByRole("status");
  const change = (i: number, overrides: Partial<Job>) =>
    setStore(
      "jobs",
      produce((list) => Object.assign(list[i]!, overrides)),
    );
  const said = () => {
    vi.advanceTimersByTime(100);
    return region.textContent;
  };
  /** The page sent `sent`, the conversation's only job, and told the announcer so. */
  const send = (sent: Job) => {
    setStore("jobs", [sent]);
    control.sent(sent);
  };
  return { region, change, said, setStore, setConversation, send };
}

describe("<JobAnnouncer>", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("is a polite live region that says nothing of the jobs a conversation opens with", () => {
    const { region, said } = setup([job(1), job(2, { status: "processing", queuePosition: 0 })]);
    expect(region).toHaveAttribute("aria-live", "polite");
    expect(said()).toBe("");
  });

  it("says when a job starts, is done, fails or is cancelled, with its prompt", () => {
    const { change, said } = setup([job(1), job(2), job(3), job(4)]);
    change(0, { status: "processing", queuePosition: 0 });
    expect(said()).toBe("Started: prompt 1.");
    change(0, { status: "complete", progress: 100 });
    expect(said()).toBe("Done: prompt 1.");
    change(1, { status: "error", queuePosition: 0, error: "Forge ran out of GPU memory" });
    expect(said()).toBe("Failed: prompt 2. Forge ran out of GPU memory");
    change(2, { status: "cancelled", queuePosition: 0 });
    expect(said()).toBe("Cancelled: prompt 3.");
    // An admin cancelled it: the owner hears who.
    change(3, { status: "cancelled", queuePosition: 0, cancelledBy: "admin" });
    expect(said()).toBe("Cancelled by admin: prompt 4.");
  });

  it("says nothing of progress, nor of moves in line short of the front", () => {
    const { change, said } = setup([job(1, { status: "processing", queuePosition: 0 }), job(3)]);
    for (let progress = 1; progress <= 99; progress++) change(0, { progress });
    change(1, { queuePosition: 2 });
    expect(said()).toBe("");
    change(1, { queuePosition: 1 });
    expect(said()).toBe("Next in line: prompt 3.");
  });

  it("says a job is next in line once, however often others go in ahead of it and back", () => {
    const { change, said } = setup([job(2), job(3, { status: "processing", queuePosition: 0 })]);
    change(0, { queuePosition: 1 });
    expect(said()).toBe("Next in line: prompt 2.");
    change(0, { queuePosition: 2 });
    change(1, { status: "complete" });
    expect(said()).toBe("Done: prompt 3.");
    change(0, { queuePosition: 1 });
    expect(said()).toBe("Done: prompt 3.");
    change(0, { status: "cancelled", queuePosition: 0 });
    expect(said()).toBe("Cancelled: prompt 2.");
  });

  it("counts a burst of news by kind instead of reading out every card", () => {
    const { change, said } = setup(Array.from({ length: 8 }, (_, i) => job(i + 1)));
    for (let i = 1; i < 8; i++) change(i, { status: "cancelled", queuePosition: 0 });
    change(0, { status: "processing", queuePosition: 0 });
    expect(said()).toBe("1 job started. 7 jobs cancelled.");
  });

  it("says where a job just sent waits, and what becomes of it", () => {
    const { said, change, send } = setup([]);
    send(job(5));
    expect(said()).toBe("Queued, #5 in queue: prompt 5.");
    change(0, { status: "processing", queuePosition: 0 });
    expect(said()).toBe("Started: prompt 5.");
  });

  it("says a job just sent is queued at the place it has by then, not also that it came next", () => {
    const { said, change, send } = setup([]);
    send(job(2));
    change(0, { queuePosition: 1 });
    expect(said()).toBe("Queued, #1 in queue: prompt 2.");
  });

  it("says only that a job just sent started when it started before the news was said, never '#0 in queue'", () => {
    const { said, change, send } = setup([]);
    send(job(1));
    change(0, { status: "processing", queuePosition: 0 });
    expect(said()).toBe("Started: prompt 1.");
  });

  it("says only what became of a job just sent that left the line before the news was said", () => {
    const { said, change, send } = setup([]);
    send(job(3));
    change(0, { status: "cancelled", queuePosition: 0 });
    expect(said()).toBe("Cancelled: prompt 3.");
  });

  it("drops the news of a conversation left, and says nothing of the jobs of the one opened", () => {
    const { said, setStore, setConversation, change } = setup([job(1)]);
    change(0, { status: "cancelled", queuePosition: 0 });
    setConversation("c2");
    setStore("jobs", [job(7, { status: "complete", queuePosition: 0 })]);
    expect(said()).toBe("");
  });
});

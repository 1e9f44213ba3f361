import { fireEvent, render, screen, within } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import { describe, expect, it, vi } from "vitest";
import { eventually } from "../test-patience";
import { ActorList } from "./actor-list";
import type { ActorsView } from "./types";

const ids = ["0caf03d2-bbb7-45be-8b7b-3efd4c0ca857", "3e225f9a-9fc2-4ecc-ac66-82a02950b46c"] as const;
const ended = "f0889482-1c2d-4e6f-8a9b-1c2d3e4f5a6b";

const actors: ActorsView = {
  scheduler: { actorId: "scheduler", status: "active", dispatching: true, children: 2 },
  aliveCount: 2,
  states: { processing: 1, queued: 1 },
  alive: [
    {
      actorId: ids[0],
      jobId: ids[0],
      state: "processing",
      status: "active",
      position: 0,
      progress: 40,
      backend: 0,
      generated: false,
      attempt: 1,
      startedAt: new Date().toISOString(),
    },
    {
      actorId: ids[1],
      jobId: ids[1],
      state: "queued",
      status: "active",
      position: 1,
      progress: 0,
      backend: null,
      generated: false,
      attempt: 2,
      startedAt: null,
    },
  ],
  finished: [
    {
      actorId: ended,
      jobId: ended,
      state: "error",
      status: "done",
      lastSeq: 9,
      lastEventAt: new Date().toISOString(),
    },
  ],
};

const prompts = { [ids[0]]: "a lighthouse", [ended]: "a red fox" };

describe("<ActorList>", () => {
  it("lists live actors with their state and the finished ones apart, the selected one marked", () => {
    render(() => <ActorList actors={actors} prompts={prompts} selectedId={ended} onSelect={() => undefined} />);
    const live = within(screen.getByRole("list", { name: "Live job actors" })).getAllByRole("button");
    expect(live.map((b) => b.textContent)).toEqual([
      "a lighthouseprocessingGPU 0 · 40% · 0caf03d2",
      "Job 3e225f9aqueued#1 in queue · attempt 2 · 3e225f9a",
    ]);
    const finished = within(screen.getByRole("list", { name: "Finished job actors" })).getByRole("button");
    expect(finished).toHaveTextContent(/^a red foxerrorended \d\d:\d\d:\d\d · f0889482$/);
    expect(finished).toHaveAttribute("aria-current", "true");
    expect(live.every((b) => !b.hasAttribute("aria-current"))).toBe(true);
  });

  it("says a job whose GPU went on to the next one is storing its image, not running there", () => {
    const [running] = actors.alive;
    const storing = { ...running!, actorId: ended, jobId: ended, progress: 100, generated: true };
    const view = { ...actors, aliveCount: 3, alive: [storing, ...actors.alive] };
    render(() => <ActorList actors={view} prompts={prompts} selectedId={null} onSelect={() => undefined} />);
    const live = within(screen.getByRole("list", { name: "Live job actors" })).getAllByRole("button");
    // Both are `processing` with GPU 0: the one whose image came says so, rather than "GPU 0 · 100%".
    expect(live.map((b) => b.textContent).slice(0, 2)).toEqual([
      "a red foxprocessingimage from GPU 0, storing it · f0889482",
      "a lighthouseprocessingGPU 0 · 40% · 0caf03d2",
    ]);
  });

  it("selects with a click, and moves between actors with the arrow keys", () => {
    const onSelect = vi.fn();
    render(() => <ActorList actors={actors} prompts={prompts} selectedId={null} onSelect={onSelect} />);
    const [first, second, third] = screen.getAllByRole("button");
    first!.focus();
    fireEvent.keyDown(first!, { key: "ArrowDown" });
    expect(second).toHaveFocus();
    fireEvent.keyDown(second!, { key: "End" });
    expect(third).toHaveFocus();
    fireEvent.keyDown(third!, { key: "ArrowUp" });
    expect(second).toHaveFocus();
    fireEvent.click(second!);
    expect(onSelect).toHaveBeenCalledWith(ids[1]);
  });
});

describe("<ActorList> when the focused job ends", () => {
  it("keeps the keyboard focus on that job, now among the finished ones", async () => {
    // As the page holds the view: one store, reconciled in place by job id at each refresh.
    const [views, setViews] = createStore<{ actors?: ActorsView }>({ actors: structuredClone(actors) });
    render(() => <ActorList actors={views.actors} prompts={prompts} selectedId={ids[0]} onSelect={() => undefined} />);
    within(screen.getByRole("list", { name: "Live job actors" }))
      .getByRole("button", { name: /a lighthouse/ })
      .focus();
    const [running, waiting] = actors.alive;
    const ended = { jobId: running!.jobId, state: "complete", status: "done", lastSeq: 12 };
    const next: ActorsView = {
      ...actors,
      aliveCount: 1,
      alive: [waiting!],
      finished: [{ ...ended, actorId: ended.jobId, lastEventAt: new Date().toISOString() }, ...actors.finished],
    };
    setViews("actors", reconcile(next, { key: "jobId" }));
    const finished = within(screen.getByRole("list", { name: "Finished job actors" }));
    await eventually(() => expect(finished.getByRole("button", { name: /a lighthouse/ })).toHaveFocus());
  });

  it("leaves the focus where the reader put it", async () => {
    const [view, setView] = createSignal<ActorsView>(actors);
    render(() => (
      <>
        <ActorList actors={view()} prompts={prompts} selectedId={null} onSelect={() => undefined} />
        <input aria-label="elsewhere" />
      </>
    ));
    screen.getByRole("button", { name: /a lighthouse/ }).focus();
    screen.getByRole("textbox", { name: "elsewhere" }).focus();
    setView({ ...actors, aliveCount: 1, alive: [actors.alive[1]!] });
    await Promise.resolve();
    expect(screen.getByRole("textbox", { name: "elsewhere" })).toHaveFocus();
  });
});

import { chartOf, imageJobMachine } from "@anvil/job-machine";
import { render } from "@solidjs/testing-library";
import { createSignal } from "solid-js";
import { describe, expect, it } from "vitest";
import { badgeHalfWidth, badgeText, Statechart } from "./statechart";
import type { Chart } from "./types";

/** A small machine with a loop back, a transition that skips a column, a self-transition and two final states. */
const chart: Chart = {
  id: "door",
  initial: "door.closed",
  states: [
    { id: "door.closed", key: "closed", final: false },
    { id: "door.open", key: "open", final: false },
    { id: "door.locked", key: "locked", final: false },
    { id: "door.broken", key: "broken", final: true },
    { id: "door.gone", key: "gone", final: true },
  ],
  transitions: [
    { source: "door.closed", target: "door.open", event: "door.open", targetless: false, guarded: false },
    { source: "door.open", target: "door.closed", event: "door.close", targetless: false, guarded: false },
    { source: "door.closed", target: "door.locked", event: "door.lock", targetless: false, guarded: true },
    { source: "door.locked", target: "door.broken", event: "door.kick", targetless: false, guarded: false },
    { source: "door.closed", target: "door.broken", event: "door.ram", targetless: false, guarded: false },
    { source: "door.open", target: "door.open", event: "door.creak", targetless: true, guarded: false },
    {
      source: "door.locked",
      target: "door.gone",
      event: "xstate.done.actor.0.door.locked",
      targetless: false,
      guarded: false,
    },
  ],
};

const edgesOf = (container: Element) =>
  [...container.querySelectorAll(".chart-edge")].map((g) => ({
    source: g.getAttribute("data-source"),
    target: g.getAttribute("data-target"),
    event: g.getAttribute("data-event"),
  }));

const key = (id: string) => id.slice(id.indexOf(".") + 1);

describe("<Statechart>", () => {
  it("draws exactly the model's states, each once, with its name and an accessible label", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" />);
    const nodes = [...container.querySelectorAll("[data-state]")];
    expect(nodes.map((n) => n.getAttribute("data-state"))).toEqual(["closed", "open", "locked", "broken", "gone"]);
    for (const node of nodes) {
      expect(node).toHaveTextContent(node.getAttribute("data-state")!);
      expect(node).toHaveAttribute("aria-label", expect.stringContaining(`State ${node.getAttribute("data-state")}`));
    }
    expect(container.querySelector("svg")).toHaveAttribute("aria-label", "Door");
  });

  it("draws exactly the model's transitions, each as a path with its event as the label", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" />);
    expect(edgesOf(container)).toEqual(
      chart.transitions.map((t) => ({ source: key(t.source), target: key(t.target), event: t.event })),
    );
    const labels = [...container.querySelectorAll(".chart-edge")].map((g) => g.querySelector("text")?.textContent);
    expect(labels).toEqual([
      "door.open",
      "door.close",
      "door.lock [guard]",
      "door.kick",
      "door.ram",
      "door.creak",
      "onDone",
    ]);
    for (const g of container.querySelectorAll(".chart-edge")) {
      expect(g.querySelector("path")?.getAttribute("d")).toMatch(/^M [\d.-]+ [\d.-]+ [CL] /);
    }
  });

  it("marks the final states with a double border and only them", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" />);
    for (const node of container.querySelectorAll("[data-state]")) {
      const final = ["broken", "gone"].includes(node.getAttribute("data-state")!);
      expect(node.querySelectorAll("rect")).toHaveLength(final ? 2 : 1);
      expect(node.classList.contains("chart-node--final")).toBe(final);
      expect(node.getAttribute("aria-label")?.includes("final")).toBe(final);
    }
    expect(container.querySelectorAll(".chart-node--initial")).toHaveLength(1);
    expect(container.querySelector(".chart-node--initial")).toHaveAttribute("data-state", "closed");
  });

  it("highlights the current state and moves the highlight when it changes", () => {
    const [current, setCurrent] = createSignal<string | null>("closed");
    const { container } = render(() => <Statechart chart={chart} label="Door" current={current()} />);
    const highlighted = () =>
      [...container.querySelectorAll('[aria-current="true"]')].map((n) => n.getAttribute("data-state"));
    expect(highlighted()).toEqual(["closed"]);
    expect(container.querySelector(".chart-node--current")).toHaveAttribute("data-state", "closed");
    setCurrent("broken");
    expect(highlighted()).toEqual(["broken"]);
    expect(container.querySelectorAll(".chart-node--current")).toHaveLength(1);
    setCurrent(null);
    expect(highlighted()).toEqual([]);
  });

  it("highlights the transition that led into the current state, and only that one", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" current="broken" taken="door.kick" />);
    const taken = [...container.querySelectorAll(".chart-edge--taken")];
    expect(taken.map((g) => [g.getAttribute("data-event"), g.getAttribute("data-target")])).toEqual([
      ["door.kick", "broken"],
    ]);
    expect(taken[0]).toHaveAttribute("aria-label", expect.stringContaining("last taken"));
  });

  it("shows how many live actors are in each state", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" counts={{ open: 3 }} />);
    const open = container.querySelector('[data-state="open"]')!;
    expect(open.querySelector(".chart-node__count")).toHaveTextContent("3");
    expect(open).toHaveAttribute("aria-label", expect.stringContaining("3 live jobs"));
    expect(container.querySelectorAll(".chart-node__count")).toHaveLength(1);
  });

  it("places every state apart, inside the drawing, the initial one leftmost", () => {
    const { container } = render(() => <Statechart chart={chart} label="Door" />);
    const svg = container.querySelector("svg")!;
    const [width, height] = [Number(svg.getAttribute("width")), Number(svg.getAttribute("height"))];
    const boxes = [...container.querySelectorAll(".chart-node__box")].map((r) => ({
      x: Number(r.getAttribute("x")),
      y: Number(r.getAttribute("y")),
      w: Number(r.getAttribute("width")),
      h: Number(r.getAttribute("height")),
    }));
    for (const [i, a] of boxes.entries()) {
      expect(a.x).toBeGreaterThanOrEqual(0);
      expect(a.y).toBeGreaterThanOrEqual(0);
      expect(a.x + a.w).toBeLessThanOrEqual(width);
      expect(a.y + a.h).toBeLessThanOrEqual(height);
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        expect(apart).toBe(true);
      }
    }
    expect(boxes[0]!.x).toBe(Math.min(...boxes.map((b) => b.x)));
  });

  it("draws the real image-job machine: its five states and six transitions", () => {
    const model = chartOf(imageJobMachine);
    const { container } = render(() => <Statechart chart={model} label="Image job" current="processing" />);
    expect([...container.querySelectorAll("[data-state]")].map((n) => n.getAttribute("data-state"))).toEqual(
      model.states.map((s) => s.key),
    );
    expect(edgesOf(container)).toEqual(
      model.transitions.map((t) => ({ source: key(t.source), target: key(t.target), event: t.event })),
    );
    expect(container.querySelector('[aria-current="true"]')).toHaveAttribute("data-state", "processing");
  });
});

describe("the count badge", () => {
  it("says 99+ past 99, on a pill wide enough for it", () => {
    expect([badgeText(7), badgeText(99), badgeText(100)]).toEqual(["7", "99", "99+"]);
    expect(badgeHalfWidth(7)).toBe(10);
    // 11 px bold digits are about 7 px wide: three of them and the rounded ends fit.
    expect(2 * badgeHalfWidth(1000)).toBeGreaterThanOrEqual(3 * 7 + 8);
  });
});

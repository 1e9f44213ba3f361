import { backEdges, order, ranks } from "./chart-layers";
import type { Chart, ChartState, ChartTransition } from "./types";

/** A state placed on the drawing: its box's top-left corner and size. */
export interface PlacedState extends ChartState {
  initial: boolean;
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A transition drawn as an SVG path, with its label's centre. */
export interface PlacedTransition {
  transition: ChartTransition;
  /** The source's and the target's `key` (what snapshots show), for labels and data attributes. */
  sourceKey: string;
  targetKey: string;
  label: string;
  path: string;
  labelX: number;
  labelY: number;
  labelWidth: number;
  /** Drawn against the flow of the layers: its arrow sits at the path's start. */
  reversed: boolean;
}

/** A chart laid out for drawing. */
export interface ChartLayout {
  width: number;
  height: number;
  states: PlacedState[];
  transitions: PlacedTransition[];
  /** Transitions whose source or target is not a drawn state (a root transition: from any state). */
  unplaced: ChartTransition[];
}

const MARGIN = 16;
const INITIAL_MARK = 30;
const NODE_HEIGHT = 40;
const DUMMY_HEIGHT = 22;
const ROW_GAP = 40;
const MIN_GAP = 72;
const LABEL_HEIGHT = 18;
const LOOP_HEIGHT = 30;

// Estimates, so the layout needs no DOM to measure (and is the same in tests); the CSS fonts match them.
const stateWidth = (key: string): number => Math.max(104, Math.ceil(key.length * 8.6) + 40);
const labelWidth = (text: string): number => Math.ceil(text.length * 6.8) + 14;

/**
 * The words on a transition: its event, except that an invoked actor's completion (`xstate.done.actor.<id>`,
 * `xstate.error.actor.<id>`) reads as XState's own `onDone` / `onError`; the exact event stays in the tooltip.
 */
export function transitionLabel(transition: ChartTransition): string {
  const invoke = /^xstate\.(done|error)\.actor\.(.+)$/.exec(transition.event);
  const event = invoke && invoke[2] !== "*" ? (invoke[1] === "done" ? "onDone" : "onError") : transition.event;
  return transition.guarded ? `${event} [guard]` : event;
}

interface Vertex {
  rank: number;
  order: number;
  /** Height of the slot in its column; a state's includes the room for its self-loops above it. */
  slot: number;
  /** The room it needs across its column: a state's box (or its loops' labels), a dummy's label. */
  width: number;
  /** The centre line. */
  y: number;
  state?: ChartState;
  loops: ChartTransition[];
  /** The transition whose label sits on this dummy (the first dummy of a long transition). */
  carries?: ChartTransition;
}

interface Chain {
  transition: ChartTransition;
  reversed: boolean;
  from: Vertex;
  /** The dummies it runs through, one per column it skips. */
  via: Vertex[];
  to: Vertex;
}

const verticesOf = (chain: Chain): Vertex[] => [chain.from, ...chain.via, chain.to];

const sum = (values: number[]): number => values.reduce((total, n) => total + n, 0);

const round1 = (n: number) => Math.round(n * 10) / 10;

/** A horizontal S-curve from (x1, y1) to (x2, y2). */
const curve = (x1: number, y1: number, x2: number, y2: number): string => {
  const dx = (x2 - x1) / 2;
  return `C ${round1(x1 + dx)} ${round1(y1)} ${round1(x2 - dx)} ${round1(y2)} ${round1(x2)} ${round1(y2)}`;
};

/**
 * Lays a chart out left to right from its model alone: states in columns by their longest distance from the
 * initial state (a transition that closes a cycle is turned round for this), ordered to keep crossings few;
 * a transition that skips columns runs through reserved slots and carries its label in the first; a
 * targetless or self transition is a loop above its state.
 */
export function layoutChart(chart: Chart): ChartLayout {
  const ids = chart.states.map((s) => s.id);
  const known = new Set(ids);
  const drawn = chart.transitions.filter((t) => known.has(t.source) && known.has(t.target));
  const unplaced = chart.transitions.filter((t) => !known.has(t.source) || !known.has(t.target));
  const links = drawn.filter((t) => t.source !== t.target);
  const back = backEdges(ids, chart.initial, links);
  const flows = links.map((t) => (back.has(t) ? { from: t.target, to: t.source } : { from: t.source, to: t.target }));
  const rank = ranks(ids, flows);

  const byId = new Map<string, Vertex>();
  const all: Vertex[] = [];
  for (const state of chart.states) {
    const loops = drawn.filter((t) => t.source === state.id && t.target === state.id);
    const vertex: Vertex = {
      rank: rank.get(state.id) ?? 0,
      order: 0,
      slot: NODE_HEIGHT + (loops.length ? LOOP_HEIGHT + loops.length * LABEL_HEIGHT : 0),
      width: Math.max(stateWidth(state.key), ...loops.map((t) => labelWidth(transitionLabel(t)))),
      y: 0,
      state,
      loops,
    };
    byId.set(state.id, vertex);
    all.push(vertex);
  }
  const vertexOf = (id: string): Vertex => {
    const vertex = byId.get(id);
    if (!vertex) throw new Error(`chart ${chart.id} has no state ${id}`);
    return vertex;
  };
  const chains: Chain[] = links.map((transition, i) => {
    const flow = flows[i] ?? { from: transition.source, to: transition.target };
    const [from, to] = [vertexOf(flow.from), vertexOf(flow.to)];
    const dummies: Vertex[] = [];
    for (let r = from.rank + 1; r < to.rank; r++) {
      const first = dummies.length === 0;
      const dummy: Vertex = {
        rank: r,
        order: 0,
        slot: DUMMY_HEIGHT,
        width: first ? labelWidth(transitionLabel(transition)) : 0,
        y: 0,
        loops: [],
        ...(first ? { carries: transition } : {}),
      };
      dummies.push(dummy);
      all.push(dummy);
    }
    return { transition, reversed: back.has(transition), from, via: dummies, to };
  });
  const segments = chains.flatMap((chain) =>
    verticesOf(chain)
      .slice(1)
      .map((b, k): [Vertex, Vertex] => [verticesOf(chain)[k] ?? b, b]),
  );
  const depth = Math.max(...all.map((v) => v.rank)) + 1;
  const layers = order(
    Array.from({ length: depth }, (_, r) => all.filter((v) => v.rank === r)),
    segments,
  );

  // Columns as wide as their widest state or label; gaps as wide as the labels drawn in them.
  const direct = chains.filter((c) => c.via.length === 0);
  const columnWidth = layers.map((layer) => Math.max(0, ...layer.map((v) => v.width)));
  const gaps = layers.map((_, r) =>
    Math.max(
      MIN_GAP,
      ...direct.filter((c) => c.from.rank === r).map((c) => labelWidth(transitionLabel(c.transition)) + 24),
    ),
  );
  const left = layers.map((_, r) => MARGIN + INITIAL_MARK + sum(columnWidth.slice(0, r)) + sum(gaps.slice(0, r)));
  const width = MARGIN + INITIAL_MARK + sum(columnWidth) + sum(gaps.slice(0, -1)) + MARGIN;

  const heights = layers.map((layer) => sum(layer.map((v) => v.slot)) + ROW_GAP * Math.max(0, layer.length - 1));
  const tallest = Math.max(NODE_HEIGHT, ...heights);
  layers.forEach((layer, r) => {
    let top = MARGIN + (tallest - (heights[r] ?? 0)) / 2;
    for (const v of layer) {
      v.y = top + v.slot - (v.state ? NODE_HEIGHT : DUMMY_HEIGHT) / 2;
      top += v.slot + ROW_GAP;
    }
  });

  const columnLeft = (v: Vertex) => left[v.rank] ?? 0;
  const columnSpan = (v: Vertex) => columnWidth[v.rank] ?? 0;
  const centreX = (v: Vertex) => columnLeft(v) + columnSpan(v) / 2;
  // A state's box is centred in its column; a dummy is a straight run across the column.
  const entry = (v: Vertex) => (v.state ? centreX(v) - stateWidth(v.state.key) / 2 : columnLeft(v));
  const exit = (v: Vertex) => (v.state ? centreX(v) + stateWidth(v.state.key) / 2 : columnLeft(v) + columnSpan(v));

  const states: PlacedState[] = chart.states.map((state) => {
    const v = vertexOf(state.id);
    const boxWidth = stateWidth(state.key);
    return {
      ...state,
      initial: state.id === chart.initial,
      x: round1(centreX(v) - boxWidth / 2),
      y: round1(v.y - NODE_HEIGHT / 2),
      width: boxWidth,
      height: NODE_HEIGHT,
    };
  });

  // Transitions between the same two vertices are fanned out a little, their labels stacked.
  const siblings = new Map<string, Chain[]>();
  const pairKey = (c: Chain) => `${all.indexOf(c.from)}→${all.indexOf(c.to)}`;
  for (const c of direct) siblings.set(pairKey(c), [...(siblings.get(pairKey(c)) ?? []), c]);

  const placed = (transition: ChartTransition, path: string, x: number, y: number, reversed: boolean) => {
    const label = transitionLabel(transition);
    return {
      transition,
      sourceKey: vertexOf(transition.source).state?.key ?? transition.source,
      targetKey: vertexOf(transition.target).state?.key ?? transition.target,
      label,
      path,
      labelX: round1(x),
      labelY: round1(y),
      labelWidth: labelWidth(label),
      reversed,
    };
  };

  const transitions: PlacedTransition[] = chains.map((chain) => {
    const vertices = verticesOf(chain);
    const [first, second] = [chain.from, chain.via[0] ?? chain.to];
    const group = chain.via.length === 0 ? (siblings.get(pairKey(chain)) ?? []) : [];
    const spread = group.length > 1 ? group.indexOf(chain) - (group.length - 1) / 2 : 0;
    const yOf = (v: Vertex) => v.y + (v.state ? spread * 8 : 0);
    let path = `M ${round1(exit(first))} ${round1(yOf(first))}`;
    vertices.slice(1).forEach((b, k) => {
      const a = vertices[k] ?? first;
      path += ` ${curve(exit(a), yOf(a), entry(b), yOf(b))}`;
      if (!b.state) path += ` L ${round1(exit(b))} ${round1(b.y)}`;
    });
    const carrier = chain.via.find((v) => v.carries === chain.transition);
    return carrier
      ? placed(chain.transition, path, centreX(carrier), carrier.y, chain.reversed)
      : placed(
          chain.transition,
          path,
          (exit(first) + entry(second)) / 2,
          (first.y + second.y) / 2 + spread * LABEL_HEIGHT,
          chain.reversed,
        );
  });
  for (const v of all) {
    const top = v.y - NODE_HEIGHT / 2;
    const cx = centreX(v);
    v.loops.forEach((transition, k) => {
      const loop = `M ${round1(cx - 14)} ${round1(top)} C ${round1(cx - 26)} ${round1(top - 28)} ${round1(cx + 26)} ${round1(top - 28)} ${round1(cx + 14)} ${round1(top)}`;
      const labelY = top - LOOP_HEIGHT - LABEL_HEIGHT / 2 - k * LABEL_HEIGHT + 4;
      transitions.push(placed(transition, loop, cx, labelY, false));
    });
  }
  // In the model's order, so that the drawing lists the transitions as the machine does.
  transitions.sort((a, b) => chart.transitions.indexOf(a.transition) - chart.transitions.indexOf(b.transition));
  return { width: round1(width), height: round1(tallest + 2 * MARGIN), states, transitions, unplaced };
}

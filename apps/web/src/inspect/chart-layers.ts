import type { ChartTransition } from "./types";

/** What the ordering needs of a vertex: its column, and its place in it (which the ordering sets). */
export interface Ranked {
  rank: number;
  order: number;
}

/** Back edges: the transitions that close a cycle, found by a depth-first walk from the initial state. */
export function backEdges(ids: string[], initial: string, links: ChartTransition[]): Set<ChartTransition> {
  const back = new Set<ChartTransition>();
  const mark = new Map<string, "open" | "done">();
  const visit = (id: string) => {
    mark.set(id, "open");
    for (const link of links) {
      if (link.source !== id) continue;
      const seen = mark.get(link.target);
      if (seen === "open") back.add(link);
      else if (!seen) visit(link.target);
    }
    mark.set(id, "done");
  };
  for (const id of [initial, ...ids]) if (ids.includes(id) && !mark.has(id)) visit(id);
  return back;
}

/** Longest-path layering: every flow goes at least one column to the right. */
export function ranks(ids: string[], flows: { from: string; to: string }[]): Map<string, number> {
  const rank = new Map(ids.map((id) => [id, 0]));
  // The flows form a DAG over ids.length vertices, so as many relaxation rounds settle every rank.
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const { from, to } of flows) {
      const next = (rank.get(from) ?? 0) + 1;
      if (next > (rank.get(to) ?? 0)) {
        rank.set(to, next);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return rank;
}

const crossings = (segments: [Ranked, Ranked][]): number => {
  let count = 0;
  segments.forEach(([a1, b1], i) => {
    for (const [a2, b2] of segments.slice(i + 1)) {
      if (a1.rank === a2.rank && (a1.order - a2.order) * (b1.order - b2.order) < 0) count++;
    }
  });
  return count;
};

/** Orders each column by the barycentre of its neighbours, sweeping both ways, and keeps the fewest crossings. */
export function order<V extends Ranked>(layers: V[][], segments: [V, V][]): V[][] {
  const renumber = (layer: V[]) => layer.forEach((v, i) => (v.order = i));
  layers.forEach(renumber);
  let best = layers.map((layer) => [...layer]);
  let fewest = crossings(segments);
  const sweep = (layer: V[], down: boolean) => {
    const centre = new Map<V, number>();
    for (const v of layer) {
      const near = segments.filter(([a, b]) => (down ? b === v : a === v)).map(([a, b]) => (down ? a : b).order);
      centre.set(v, near.length ? near.reduce((total, n) => total + n, 0) / near.length : v.order);
    }
    layer.sort((a, b) => (centre.get(a) ?? 0) - (centre.get(b) ?? 0) || a.order - b.order);
    renumber(layer);
  };
  for (let round = 0; round < 4 && fewest > 0; round++) {
    for (const layer of layers.slice(1)) sweep(layer, true);
    for (const layer of layers.slice(0, -1).reverse()) sweep(layer, false);
    const count = crossings(segments);
    if (count < fewest) {
      fewest = count;
      best = layers.map((layer) => [...layer]);
    }
  }
  best.forEach(renumber);
  return best;
}

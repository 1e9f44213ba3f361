import type { AnyStateMachine, AnyStateNode } from "xstate";

/** One state of a chart; `id` is XState's dotted id ("imageJob.queued"), `key` what a snapshot's value shows ("queued"). */
export interface ChartState {
  id: string;
  key: string;
  final: boolean;
}

/**
 * One transition of a chart. A targetless transition (it runs actions without leaving its state, like
 * `job.progress`) is listed as a self-transition with `targetless: true`. `event` is the exact event type the
 * machine reacts to; one ending in `.*` is a wildcard (the scheduler's `xstate.done.actor.*`), and an invoked
 * actor's completion is `xstate.done.actor.<invoke id>` / `xstate.error.actor.<invoke id>`, as inspection shows it.
 */
export interface ChartTransition {
  source: string;
  target: string;
  event: string;
  targetless: boolean;
  guarded: boolean;
}

/** A machine's states and transitions, read from its definition. */
export interface Chart {
  id: string;
  /** The state a new actor starts in. */
  initial: string;
  states: ChartState[];
  transitions: ChartTransition[];
}

const transitionsOf = (node: AnyStateNode): ChartTransition[] => {
  const definitions = [...[...node.transitions.values()].flat(), ...(node.always ?? [])];
  return definitions.flatMap((transition): ChartTransition[] => {
    const targets = transition.target ?? [];
    const common = { source: node.id, event: transition.eventType, guarded: transition.guard !== undefined };
    if (targets.length === 0) return [{ ...common, target: node.id, targetless: true }];
    return targets.map((target) => ({ ...common, target: target.id, targetless: false }));
  });
};

const descendants = (node: AnyStateNode): AnyStateNode[] =>
  Object.values(node.states).flatMap((child) => [child, ...descendants(child)]);

/**
 * The chart of a machine, walked from `machine.root`, so it always shows what the machine really does.
 * A machine without child states (the scheduler) is its own single state; otherwise the root is not listed,
 * and a transition defined on the root (none so far) has the root's id as its `source`: from any state.
 */
export function chartOf(machine: AnyStateMachine): Chart {
  const { root } = machine;
  const nodes = descendants(root);
  const states = (nodes.length === 0 ? [root] : nodes).map((node) => ({
    id: node.id,
    key: node.key,
    final: node.type === "final",
  }));
  return {
    id: root.id,
    initial: root.initial.target[0]?.id ?? root.id,
    states,
    transitions: [root, ...nodes].flatMap(transitionsOf),
  };
}

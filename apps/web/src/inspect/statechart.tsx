import { createEffect, createMemo, createUniqueId, For, on, Show } from "solid-js";
import { counted } from "../lib/format";
import { layoutChart } from "./chart-layout";
import type { Chart } from "./types";

/** What a state's count badge says: the number of actors in it, 99+ past that. */
export const badgeText = (count: number): string => (count > 99 ? "99+" : String(count));
/** Half the width of that badge: a circle (r 10) for one or two characters, longer for three. */
export const badgeHalfWidth = (count: number): number => Math.max(10, 3.5 * badgeText(count).length + 4);

/** What a state's accessible name says about it. */
const describeState = (key: string, final: boolean, initial: boolean, current: boolean, count: number): string =>
  [
    `State ${key}`,
    initial ? "initial" : null,
    final ? "final" : null,
    current ? "current state of the selected job" : null,
    count ? counted(count, "live job", "live jobs") : null,
  ]
    .filter(Boolean)
    .join(", ");

/**
 * A statechart drawn as SVG from its model: states as boxes (final ones with a double border, the initial one
 * entered from a dot), transitions as labelled arrows. `current` (a state key) is highlighted; `counts` puts
 * a badge with the number of live actors on each state.
 */
export function Statechart(props: {
  chart: Chart;
  label: string;
  current?: string | null | undefined;
  /** The event of the transition that led into `current`; that transition is highlighted too. */
  taken?: string | null | undefined;
  /** The state that transition left, where known: of several transitions on one event into `current`, the one taken. */
  takenFrom?: string | null | undefined;
  counts?: Record<string, number> | undefined;
}) {
  const layout = createMemo(() => layoutChart(props.chart));
  const arrow = `arrow-${createUniqueId()}`;
  const arrowTaken = `${arrow}-taken`;
  let figure!: HTMLElement;
  // Where the chart is wider than its panel (on a phone it keeps a size that can be read, and scrolls sideways), the
  // state the selected job is in is brought into view as it changes: not the initial state and the next one's edge.
  createEffect(
    on(
      () => props.current,
      (current) => {
        if (current == null || figure.scrollWidth <= figure.clientWidth) return;
        const node = figure.querySelector(`[data-state][aria-current="true"]`);
        if (!node) return;
        const box = node.getBoundingClientRect();
        const frame = figure.getBoundingClientRect();
        const centre = box.left - frame.left + figure.scrollLeft + box.width / 2;
        figure.scrollLeft = Math.max(0, centre - figure.clientWidth / 2);
      },
    ),
  );
  return (
    <figure ref={figure} class="statechart">
      <svg
        class="statechart__svg"
        role="group"
        aria-label={props.label}
        viewBox={`0 0 ${layout().width} ${layout().height}`}
        width={layout().width}
        height={layout().height}
      >
        <defs>
          <marker
            id={arrow}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="statechart__arrow" />
          </marker>
          <marker
            id={arrowTaken}
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="6"
            markerHeight="6"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" class="statechart__arrow statechart__arrow--taken" />
          </marker>
        </defs>
        <For each={layout().transitions}>
          {(edge) => {
            const taken = () =>
              props.taken != null &&
              props.taken === edge.transition.event &&
              props.current === edge.targetKey &&
              (props.takenFrom == null || props.takenFrom === edge.sourceKey);
            const marker = () => `url(#${taken() ? arrowTaken : arrow})`;
            return (
              <g
                class="chart-edge"
                classList={{ "chart-edge--guarded": edge.transition.guarded, "chart-edge--taken": taken() }}
                data-source={edge.sourceKey}
                data-target={edge.targetKey}
                data-event={edge.transition.event}
                role="img"
                aria-label={[
                  `${edge.transition.event}: ${edge.sourceKey} → ${edge.targetKey}`,
                  edge.transition.guarded ? "guarded" : null,
                  edge.transition.targetless ? "stays, runs actions" : null,
                  taken() ? "last taken by the selected job" : null,
                ]
                  .filter(Boolean)
                  .join(", ")}
              >
                <title>{`${edge.transition.event}\n${edge.sourceKey} → ${edge.targetKey}`}</title>
                <path
                  class="chart-edge__line"
                  d={edge.path}
                  marker-end={edge.reversed ? undefined : marker()}
                  marker-start={edge.reversed ? marker() : undefined}
                />
                <g class="chart-edge__label" transform={`translate(${edge.labelX} ${edge.labelY})`}>
                  <rect x={-edge.labelWidth / 2} y={-9} width={edge.labelWidth} height={18} rx={5} />
                  <text text-anchor="middle" dominant-baseline="central">
                    {edge.label}
                  </text>
                </g>
              </g>
            );
          }}
        </For>
        <For each={layout().states}>
          {(state) => {
            const current = () => props.current === state.key || props.current === state.id;
            const count = () => props.counts?.[state.key] ?? 0;
            return (
              <g
                class="chart-node"
                classList={{
                  "chart-node--final": state.final,
                  "chart-node--initial": state.initial,
                  "chart-node--current": current(),
                }}
                data-state={state.key}
                role="img"
                aria-label={describeState(state.key, state.final, state.initial, current(), count())}
                aria-current={current() ? "true" : undefined}
              >
                <Show when={state.initial}>
                  <circle class="chart-node__start" cx={state.x - 24} cy={state.y + state.height / 2} r={5} />
                  <path
                    class="chart-edge__line"
                    d={`M ${state.x - 19} ${state.y + state.height / 2} H ${state.x}`}
                    marker-end={`url(#${arrow})`}
                  />
                </Show>
                <rect
                  class="chart-node__box"
                  x={state.x}
                  y={state.y}
                  width={state.width}
                  height={state.height}
                  rx={10}
                />
                <Show when={state.final}>
                  <rect
                    class="chart-node__inner"
                    x={state.x + 4}
                    y={state.y + 4}
                    width={state.width - 8}
                    height={state.height - 8}
                    rx={7}
                  />
                </Show>
                <text
                  class="chart-node__name"
                  x={state.x + state.width / 2}
                  y={state.y + state.height / 2}
                  text-anchor="middle"
                  dominant-baseline="central"
                >
                  {state.key}
                </text>
                <Show when={count() > 0}>
                  <g class="chart-node__count" transform={`translate(${state.x + state.width - 2} ${state.y + 2})`}>
                    {/* A pill as wide as its digits: "99+" spilt out of a circle of two. */}
                    <rect
                      x={-badgeHalfWidth(count())}
                      y={-10}
                      width={2 * badgeHalfWidth(count())}
                      height={20}
                      rx={10}
                    />
                    <text text-anchor="middle" dominant-baseline="central">
                      {badgeText(count())}
                    </text>
                  </g>
                </Show>
              </g>
            );
          }}
        </For>
      </svg>
      <Show when={layout().unplaced.length > 0}>
        <figcaption class="statechart__note">
          From any state:{" "}
          {layout()
            .unplaced.map((t) => `${t.event} → ${t.target}`)
            .join(", ")}
        </figcaption>
      </Show>
    </figure>
  );
}

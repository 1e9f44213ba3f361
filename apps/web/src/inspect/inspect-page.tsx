import { For, Match, onCleanup, Show, Switch } from "solid-js";
import { ConnectionStatus } from "../components/connection-status";
import { ThemeToggle } from "../components/theme-toggle";
import { ActorList } from "./actor-list";
import { createInspectorState } from "./inspect-state";
import { SchedulerPanel } from "./scheduler-panel";
import { ServersPanel } from "./servers-panel";
import { Statechart } from "./statechart";
import { Timeline } from "./timeline";
import type { Chart } from "./types";
import "./inspect.css";

/** What the page says while the server runs without inspection: what is missing and how to turn it on. */
export function InspectionOff() {
  return (
    <section class="inspect-off" role="alert" aria-labelledby="inspect-off-title">
      <h2 id="inspect-off-title">Inspection is off on this server</h2>
      <p>
        Start the server with <code>ANVIL_INSPECT=1</code> to see the job actors, their events and the scheduler here,
        e.g. <code>ANVIL_INSPECT=1 npm run serve</code>.
      </p>
      <p class="inspect-off__detail">
        Left unset, inspection is on unless <code>NODE_ENV=production</code>; <code>ANVIL_INSPECT=0</code> turns it off.
        The statechart below is read from the machine and is drawn either way. See docs/DEBUGGING.md.
      </p>
    </section>
  );
}

/** What the page says to a user who is not an admin: the server shows its job actors and scheduler to admins only. */
export function InspectorForbidden() {
  return (
    <section class="inspect-off" role="alert" aria-labelledby="inspect-forbidden-title">
      <h2 id="inspect-forbidden-title">The inspector is for admins</h2>
      <p>
        It shows every user's jobs as the scheduler runs them, so the server shows it to admins only. Your own jobs and
        their progress are on the <a href="/">chat page</a>.
      </p>
    </section>
  );
}

/** The scheduler's machine: drawn when it has states of its own, else the events its one state reacts to. */
function SchedulerChart(props: { chart: Chart }) {
  return (
    <Show
      when={props.chart.states.length > 1}
      fallback={
        <div class="scheduler-chart">
          <p>
            <strong>Scheduler machine</strong>: one state, <code>{props.chart.states[0]?.key}</code>, in which it
            decides who runs next. It reacts to
          </p>
          <ul class="scheduler-chart__events" aria-label="Events the scheduler reacts to">
            <For each={props.chart.transitions}>
              {(t) => (
                <li>
                  <code>{t.event}</code>
                </li>
              )}
            </For>
          </ul>
        </div>
      }
    >
      <h3>Scheduler machine</h3>
      <Statechart chart={props.chart} label="Scheduler statechart" />
    </Show>
  );
}

/** /inspect: the machines' charts, the live job actors, the selected job's timeline and the scheduler. */
export function InspectPage() {
  const inspector = createInspectorState();
  const title = document.title;
  document.title = "Inspector · Anvil";
  onCleanup(() => (document.title = title));
  const on = () => inspector.mode() === "on";
  // The live panels hold their places while the page asks whether inspection is on, so nothing moves after.
  const live = () => inspector.mode() === "on" || inspector.mode() === "checking";
  const forbidden = () => inspector.mode() === "forbidden";
  let chartPanel: HTMLElement | undefined;
  /**
   * Selects a job. Where the panels stand in one column (a phone, a tablet), the job lists lie below the chart and
   * the timeline: the chart is scrolled back into view, else a tap changed nothing that could be seen. The focus stays
   * on the job's button.
   */
  const choose = (jobId: string) => {
    inspector.select(jobId);
    const box = chartPanel?.getBoundingClientRect();
    if (box && (box.bottom <= 0 || box.top >= window.innerHeight)) chartPanel?.scrollIntoView?.({ block: "start" });
  };

  return (
    <div class="inspect" data-mode={inspector.mode()}>
      <header class="topbar">
        <a class="brand brand--link" href="/">
          <span class="brand__name">Anvil</span>
        </a>
        <h1 class="topbar__title">Inspector</h1>
        <Show when={live()}>
          <ConnectionStatus state={inspector.connection()} />
        </Show>
        <a class="topbar__link" href="/">
          Chat
        </a>
        <ThemeToggle />
      </header>
      <Show when={live()}>
        <ActorList
          actors={inspector.actors()}
          prompts={inspector.prompts}
          selectedId={inspector.selectedId()}
          onSelect={choose}
        />
      </Show>
      <main class="inspect__main">
        <Show when={!forbidden()} fallback={<InspectorForbidden />}>
          <Show when={inspector.loadError()}>
            <p class="banner inspect__banner" role="alert">
              {inspector.loadError()}
            </p>
          </Show>
          <Show when={inspector.mode() === "off"}>
            <InspectionOff />
          </Show>
          <ServersPanel />
          <section ref={chartPanel} class="inspect__chart" aria-labelledby="chart-title">
            <div class="panel-head">
              <h2 id="chart-title">Image job machine</h2>
              <span class="panel-head__meta">
                <Switch
                  fallback={
                    on() ? "badges count the live job actors in each state" : "drawn from the machine definition"
                  }
                >
                  <Match when={inspector.selectedState()?.state}>
                    {(state) => (
                      <>
                        selected job is <strong>{state()}</strong>
                      </>
                    )}
                  </Match>
                </Switch>
              </span>
            </div>
            <Show when={inspector.charts()} fallback={<p class="timeline__hint">Reading the machines…</p>}>
              {(charts) => (
                <>
                  <Statechart
                    chart={charts().imageJob}
                    label="Image job statechart"
                    current={inspector.selectedState()?.state}
                    taken={inspector.selectedState()?.event}
                    takenFrom={inspector.selectedState()?.from}
                    counts={on() ? inspector.counts() : undefined}
                  />
                  <SchedulerChart chart={charts().scheduler} />
                </>
              )}
            </Show>
          </section>
          <Show when={live()}>
            <Timeline
              timeline={inspector.timeline}
              prompt={inspector.prompts[inspector.selectedId() ?? ""] ?? inspector.selectedJob()?.prompt}
              job={inspector.selectedJob()}
            />
          </Show>
        </Show>
      </main>
      <Show when={live()}>
        <SchedulerPanel view={inspector.scheduler()} prompts={inspector.prompts} onSelect={choose} />
      </Show>
    </div>
  );
}

import { createEffect, createMemo, createSignal, For, Match, on, Show, Switch } from "solid-js";
import { backendLabel } from "../lib/format";
import { clockTime, formatOffset } from "./format";
import type { StoredJob, TimelineState } from "./inspect-state";
import { stateKey } from "./inspect-state";
import type { InspectionRecord } from "./types";

const PROGRESS = "job.progress";

const KIND: Record<InspectionRecord["type"], string> = {
  "@xstate.event": "event",
  "@xstate.snapshot": "snapshot",
  "@xstate.actor": "actor",
};

/** Who a record is about, relative to the selected job: the job itself, what it invoked, or the scheduler. */
const actorLabel = (record: InspectionRecord, jobId: string): string => {
  if (record.actorId === jobId) return "job";
  if (record.actorId.startsWith(`${jobId}/`)) return `↳ ${record.actorId.slice(jobId.length + 1)}`;
  return record.actorId;
};

/** A failure: an invoked actor's error event, or a snapshot in the error state or status. */
export const isFailure = (record: InspectionRecord): boolean =>
  Boolean(record.eventType?.startsWith("xstate.error.")) ||
  record.status === "error" ||
  (record.type === "@xstate.snapshot" && stateKey(record.state) === "error");

const json = (value: unknown): string => JSON.stringify(value) ?? "undefined";
/** A context value as shown: a time (`startedAt`, `finishedAt` … in epoch milliseconds) as the time it is. */
export const shownValue = (key: string, value: unknown): string =>
  typeof value === "number" && /At$/.test(key) && Number.isFinite(value) && value > 1e12
    ? new Date(value).toISOString()
    : json(value);

function EventRow(props: { record: InspectionRecord; jobId: string; start: number }) {
  const r = () => props.record;
  return (
    <li
      class={`event event--${KIND[r().type]}`}
      classList={{ "event--failure": isFailure(r()) }}
      data-event-type={r().eventType ?? ""}
    >
      <time class="event__time" datetime={r().at}>
        {clockTime(r().at, true)}
        <span class="event__offset">{formatOffset(Date.parse(r().at) - props.start)}</span>
      </time>
      <span class="event__kind">{KIND[r().type]}</span>
      <span class="event__actor" title={r().actorId}>
        {actorLabel(r(), props.jobId)}
      </span>
      <div class="event__main">
        <Switch>
          <Match when={r().type === "@xstate.event"}>
            <code class="event__type">{r().eventType}</code>
            <Show when={r().sourceId}>
              {(source) => (
                <span class="event__note"> from {actorLabel({ ...r(), actorId: source() }, props.jobId)}</span>
              )}
            </Show>
          </Match>
          <Match when={r().type === "@xstate.snapshot"}>
            <span class="event__state">
              {r().state === null ? "context" : <strong>{stateKey(r().state)}</strong>}
              <Show when={r().status && r().status !== "active"}> ({r().status})</Show>
            </span>
            <Show when={r().eventType}>
              <span class="event__note">
                {" "}
                after <code>{r().eventType}</code>
              </span>
            </Show>
          </Match>
          <Match when={r().type === "@xstate.actor"}>
            <span class="event__note">actor started</span>
          </Match>
        </Switch>
        <Show when={r().payloadSummary}>
          <pre class="event__payload">{r().payloadSummary}</pre>
        </Show>
        <Show when={r().contextDiff}>
          {(diff) => (
            <dl class="event__diff" aria-label="Context changes">
              <For each={Object.entries(diff())}>
                {([key, [before, after]]) => (
                  <div>
                    <dt>{key}:</dt>
                    <dd>
                      <code>{shownValue(key, before)}</code> → <code>{shownValue(key, after)}</code>
                    </dd>
                  </div>
                )}
              </For>
            </dl>
          )}
        </Show>
      </div>
    </li>
  );
}

/**
 * What the server stored of the selected job: its status, attempt, backend and error. The events may not say it:
 * they may have left the ring, or the job may have run before the server last started.
 */
export function StoredJobLine(props: { job: StoredJob }) {
  return (
    <p class="timeline__stored" data-testid="stored-job">
      <span class={`badge badge--${props.job.status}`}>{props.job.status}</span>
      <span>attempt {props.job.attempt}</span>
      <Show when={props.job.backend}>{(url) => <span>on {backendLabel(url())}</span>}</Show>
      <Show when={props.job.status === "queued" && props.job.queuePosition > 0}>
        <span>#{props.job.queuePosition} in queue</span>
      </Show>
      <Show when={props.job.error}>{(error) => <span class="timeline__stored-error">{error()}</span>}</Show>
    </p>
  );
}

/** The selected job's inspection events as they happen: type, time, payload summary and context changes. */
export function Timeline(props: { timeline: TimelineState; prompt: string | undefined; job?: StoredJob | null }) {
  const [showProgress, setShowProgress] = createSignal(false);
  const shown = createMemo(() =>
    showProgress() ? props.timeline.events : props.timeline.events.filter((r) => r.eventType !== PROGRESS),
  );
  const hidden = () => props.timeline.events.length - shown().length;
  const start = () => Date.parse(props.timeline.events[0]?.at ?? new Date().toISOString());
  let list: HTMLDivElement | undefined;
  let following = true;
  // New events scroll into view while the reader is at the bottom; reading further up stays put.
  createEffect(
    on(
      () => shown().length,
      () => {
        if (list && following) list.scrollTop = list.scrollHeight;
      },
    ),
  );

  return (
    <section class="timeline" aria-labelledby="timeline-title">
      <div class="panel-head">
        <h2 id="timeline-title">Timeline</h2>
        <span class="panel-head__meta timeline__job">
          <Show when={props.timeline.jobId} fallback="no job selected">
            {(jobId) => (
              <>
                <code>{jobId().slice(0, 8)}</code> {props.prompt ?? ""}
              </>
            )}
          </Show>
        </span>
        <label class="timeline__filter">
          <input type="checkbox" checked={showProgress()} onChange={(e) => setShowProgress(e.currentTarget.checked)} />
          Progress events
          <Show when={!showProgress() && hidden() > 0}>
            <span class="timeline__hidden"> ({hidden()} hidden)</span>
          </Show>
        </label>
      </div>
      <Show when={props.job?.id === props.timeline.jobId ? props.job : null}>
        {(job) => <StoredJobLine job={job()} />}
      </Show>
      <div
        class="timeline__scroll"
        ref={list}
        tabindex="0"
        aria-label="Events"
        onScroll={(e) => {
          const el = e.currentTarget;
          following = el.scrollHeight - el.scrollTop - el.clientHeight < 32;
        }}
      >
        <Switch>
          <Match when={!props.timeline.jobId}>
            <p class="timeline__hint">Select a job actor to follow its events, live or after the fact.</p>
          </Match>
          <Match when={props.timeline.error}>
            <p class="timeline__hint timeline__hint--error" role="alert">
              {props.timeline.error}
            </p>
          </Match>
          <Match when={props.timeline.loading}>
            <p class="timeline__hint">Loading events…</p>
          </Match>
          <Match when={props.timeline.events.length === 0}>
            <p class="timeline__hint">
              The server keeps no events of this job: they have left the inspection ring, or it ran before the server
              last started or before inspection was on.
            </p>
          </Match>
          <Match when={true}>
            <Show when={props.timeline.truncated}>
              <p class="timeline__hint">
                Earlier events of this job are not here: they have left the inspection ring, or it ran before this
                server took it into the line (a restart, or another server that led before).
              </p>
            </Show>
            <ol class="timeline__list">
              <For each={shown()}>
                {(record) => <EventRow record={record} jobId={props.timeline.jobId ?? ""} start={start()} />}
              </For>
            </ol>
          </Match>
        </Switch>
      </div>
    </section>
  );
}

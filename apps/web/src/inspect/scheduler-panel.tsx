import { For, Index, Show } from "solid-js";
import { Elapsed } from "../components/elapsed";
import { backendLabel, sharedNow } from "../lib/format";
import { clockTime, modelLabel } from "./format";
import { DECISIONS_SHOWN } from "./inspect-state";
import type { SchedulerView } from "./types";

/** "13:04:05 (0:42 ago)", ticking. */
function Since(props: { at: string }) {
  return (
    <span>
      <time datetime={props.at}>{clockTime(props.at)}</time> (<Elapsed since={props.at} /> ago)
    </span>
  );
}

/** A job named by its prompt (or id), as a button that selects it. */
function JobLink(props: { jobId: string; prompt: string | undefined; onSelect: (jobId: string) => void }) {
  return (
    <button type="button" class="job-link" onClick={() => props.onSelect(props.jobId)} title={props.jobId}>
      {props.prompt || `Job ${props.jobId.slice(0, 8)}`}
    </button>
  );
}

/**
 * The scheduler's view: why the first in line waits, the GPU permits and who holds them (and which model each has
 * loaded), the line in order, and why the latest jobs got a GPU.
 */
export function SchedulerPanel(props: {
  view: SchedulerView | undefined;
  prompts: Record<string, string>;
  onSelect: (jobId: string) => void;
}) {
  // One clock for the whole line: a timer per waiting job (hundreds) made the page lay itself out many times a second.
  const now = sharedNow();
  return (
    <aside class="sched" aria-label="Scheduler">
      <div class="panel-head">
        <h2>Scheduler</h2>
        <span class="panel-head__meta">
          {props.view
            ? !props.view.dispatching
              ? "not dispatching"
              : props.view.paused
                ? "paused by an admin"
                : "dispatching"
            : "–"}
        </span>
      </div>
      <p class="sched__why" data-reason={props.view?.blockedBy?.reason ?? "none"} role="status">
        {props.view?.blockedBy
          ? props.view.blockedBy.message
          : props.view?.paused
            ? "Nobody is waiting for a GPU, but an admin paused the queue (queue.pause): nothing starts until queue.resume."
            : props.view
              ? "Nobody is waiting for a GPU."
              : "Reading the scheduler…"}
      </p>

      <h3>GPU permits</h3>
      <div class="permits" data-testid="permits">
        <span class="permits__pips" aria-hidden="true">
          <Index each={Array.from({ length: props.view?.permits.total ?? 0 })}>
            {(_, i) => (
              <span class="permits__pip" classList={{ "permits__pip--held": i < (props.view?.permits.held ?? 0) }} />
            )}
          </Index>
        </span>
        <span>
          {props.view
            ? `${props.view.permits.held} held · ${props.view.permits.free} free of ${props.view.permits.total}`
            : "–"}
        </span>
      </div>
      <ul class="sched__backends">
        <Index each={props.view?.backends ?? []}>
          {(backend) => (
            <li
              class="sched-backend"
              classList={{
                "sched-backend--down": !backend().healthy,
                "sched-backend--busy": backend().healthy && backend().permit.held,
              }}
              data-backend={backend().index}
            >
              <div class="sched-backend__head">
                <span class="backend__dot" aria-hidden="true" />
                <span class="sched-backend__name">
                  GPU {backend().index} <code>{backendLabel(backend().url)}</code>
                </span>
                <span class="sched-backend__state">
                  {!backend().healthy ? "unreachable" : backend().permit.held ? "permit held" : "permit free"}
                </span>
              </div>
              <Show
                when={backend().jobId}
                fallback={<p class="sched-backend__line sched-backend__idle">No job assigned</p>}
              >
                {(jobId) => (
                  <p class="sched-backend__line">
                    <JobLink jobId={jobId()} prompt={props.prompts[jobId()]} onSelect={props.onSelect} />
                    <Show when={backend().since}>
                      {(since) => (
                        <span class="sched-backend__since">
                          assigned <Since at={since()} />
                        </span>
                      )}
                    </Show>
                  </p>
                )}
              </Show>
              <Show when={backend().permit.held && backend().permit.since}>
                {(since) => (
                  <p class="sched-backend__line sched-backend__since">
                    <span>
                      permit held since <Since at={since()} />
                    </span>
                  </p>
                )}
              </Show>
              <Show when={backend().model}>
                {(model) => (
                  <p class="sched-backend__line sched-backend__model" title={model()}>
                    model loaded: {modelLabel(model())}
                  </p>
                )}
              </Show>
              <Show when={backend().lastError}>
                <p class="sched-backend__line sched-backend__error">{backend().lastError}</p>
              </Show>
            </li>
          )}
        </Index>
      </ul>

      <h3>Queue {props.view ? `(${props.view.queued})` : ""}</h3>
      <ol class="sched__queue" aria-label="Queue in order">
        <For each={props.view?.queue ?? []} fallback={<li class="sched__empty">The queue is empty</li>}>
          {(entry) => (
            <li class="queue-entry" data-job-id={entry.jobId}>
              <span class="queue-entry__position">#{entry.position}</span>
              <JobLink
                jobId={entry.jobId}
                prompt={entry.prompt || props.prompts[entry.jobId]}
                onSelect={props.onSelect}
              />
              <span class="queue-entry__meta">
                <code>{entry.jobId.slice(0, 8)}</code>
                <Show when={entry.createdAt}>
                  {(createdAt) => (
                    <>
                      {" "}
                      · waiting <Elapsed since={createdAt()} now={now} />
                    </>
                  )}
                </Show>
                <Show when={entry.attempt > 1}> · attempt {entry.attempt}</Show>
                <Show when={entry.passedOver > 0}> · passed over {entry.passedOver}×</Show>
              </span>
            </li>
          )}
        </For>
      </ol>
      <Show when={(props.view?.queued ?? 0) - (props.view?.queue.length ?? 0)}>
        {(more) => <p class="sched__empty">and {more()} more</p>}
      </Show>

      <h3>Why they started</h3>
      <ol class="sched__decisions" aria-label="Dispatch decisions, newest first">
        <For
          each={(props.view?.dispatches ?? []).slice(0, DECISIONS_SHOWN)}
          fallback={<li class="sched__empty">No job has started since the server did</li>}
        >
          {(decision) => (
            <li class="decision" data-kind={decision.kind} data-job-id={decision.jobId}>
              <span class="decision__head">
                <time datetime={decision.at}>{clockTime(decision.at)}</time> · GPU {decision.backend} ·{" "}
                <JobLink jobId={decision.jobId} prompt={props.prompts[decision.jobId]} onSelect={props.onSelect} />
              </span>
              <span class="decision__reason">{decision.reason}</span>
            </li>
          )}
        </For>
      </ol>
    </aside>
  );
}

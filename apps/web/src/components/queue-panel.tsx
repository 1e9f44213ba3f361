import { createEffect, createMemo, createSignal, createUniqueId, For, on, Show } from "solid-js";
import type { JSX } from "solid-js";
import { actionFailure, UNREACHABLE } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import { backendLabel, wholeNumber } from "../lib/format";
import type { ConnectionState } from "../lib/subscription";
import { whenLiveAgain } from "../lib/subscription";
import type { QueueStatus } from "../lib/types";
import { ConnectionStatus } from "./connection-status";
import { LineIcon } from "./icons";
import { PauseButton } from "./pause-button";

const STATE_LABEL = {
  unknown: "Unknown",
  down: "Unreachable",
  // Busy with a generation that is not Anvil's: a person in Forge's own UI, or another client of its API.
  elsewhere: "Busy outside Anvil",
  // A server's first moment as leader: it has not asked the GPU yet.
  checking: "Checking",
  // Busy with no job of the line: one that ended (cancelled, timed out) while Forge is interrupted, or one another
  // server left there. The next job waits for it.
  stopping: "Stopping",
  busy: "Generating",
  // Its job sets up and loads its checkpoint (often 30–60 s for Flux) before it generates.
  loading: "Loading model",
  idle: "Idle",
};

/**
 * The line and the GPUs at a glance, with the state of the live connection and whether the queue is paused; for
 * admins, Pause / Resume and the way to the whole line.
 */
/** A count of the queue, or "–" until the first status has come. */
const countOrDash = (n: number | undefined): string => (n === undefined ? "–" : wholeNumber(n));

/**
 * Why no job starts, in a sentence; a phone's one-line strip shows only `short` (the sentence cut at the screen's
 * edge read "Paused: no job starts u"); the sentence is still read out, and the cards say it too.
 */
function StripNote(props: { short: string; testId: string; children: JSX.Element }) {
  return (
    <p class="queue-panel__paused" role="status" data-testid={props.testId}>
      <span class="queue-panel__note-short" aria-hidden="true">
        {props.short}
      </span>
      <span class="queue-panel__note-whole">{props.children}</span>
    </p>
  );
}

export function QueuePanel(props: {
  status: QueueStatus | undefined;
  connection: ConnectionState;
  /** The prompt of a running job, when the page knows it. */
  promptOf: (jobId: string) => string | undefined;
  /** Present for admins: pauses or resumes the queue. */
  onSetPaused?: ((paused: boolean) => Promise<unknown>) | undefined;
  /** Present for admins: opens everyone's waiting jobs. */
  onOpenLine?: (() => void) | undefined;
  /**
   * Present for admins: cancels the job a GPU runs, whoever's it is. A stuck generation held its GPU until the job's
   * timeout (10 minutes by default) unless the admin found its conversation among everyone's.
   */
  onCancelJob?: ((jobId: string) => Promise<unknown>) | undefined;
}) {
  const [cancelling, setCancelling] = createSignal<string | null>(null);
  const [cancelError, setCancelError] = createSignal<string | null>(null);
  // As the Pause button's: "cannot be reached" goes once the page hears from the server again.
  whenLiveAgain(
    () => props.connection,
    () => {
      if (cancelError() === UNREACHABLE) setCancelError(null);
    },
  );
  // A failed Cancel is about the job the GPU ran then: once the GPUs run other jobs (or none), it is old news.
  // (A memo: each status read is a new object, and only a change of the jobs counts.)
  const runningJobs = createMemo(() => (props.status?.backends ?? []).map((backend) => backend.jobId ?? "").join());
  createEffect(on(runningJobs, () => setCancelError(null), { defer: true }));
  let list: HTMLUListElement | undefined;
  const cancelJob = async (jobId: string, onCancelJob: (jobId: string) => Promise<unknown>) => {
    setCancelling(jobId);
    setCancelError(null);
    try {
      await onCancelJob(jobId);
    } catch (e) {
      setCancelError(actionFailure("cancel", e));
    } finally {
      setCancelling(null);
    }
    // The pressed button goes once the GPU stops: a keyboard user stays with the GPUs, not at the top of the page.
    if (focusFellToPage()) list?.focus();
  };
  // While the stream reconnects, the last status is stale: the counts and GPUs say they are unknown rather than look
  // current (a green "Idle" on a GPU that may be down).
  const stale = () => props.connection === "reconnecting";
  const current = () => (stale() ? undefined : props.status);
  // Running counts the jobs a GPU is done with that are still storing their image (the next job has their GPU): said,
  // where "Running 4" beside two GPUs read as a count gone wrong.
  const saving = () => {
    const status = current();
    if (!status) return 0;
    const onGpus = status.backends.filter((backend) => backend.busy && !backend.stopping).length;
    return Math.max(0, status.processing - onGpus);
  };
  return (
    <aside class="queue-panel" aria-label="Queue">
      <div class="queue-panel__head">
        <h2>Queue</h2>
        <ConnectionStatus state={props.connection} />
      </div>
      <dl class="queue-panel__counts">
        <div>
          <dt>Waiting</dt>
          <dd data-testid="queue-waiting">{countOrDash(current()?.queued)}</dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd data-testid="queue-running">
            {countOrDash(current()?.processing)}
            <Show when={saving() > 0}>
              <span class="queue-panel__saving"> ({saving()} saving their image)</span>
            </Show>
          </dd>
        </div>
      </dl>
      <Show when={props.status?.paused}>
        <StripNote short="Paused" testId="queue-paused">
          {/* An admin has Resume queue beneath: told so, not to wait for an admin. */}
          Paused: no job starts until {props.onSetPaused ? "the queue is resumed" : "an admin resumes the queue"}.
        </StripNote>
      </Show>
      <Show when={current()?.imagesNotStored}>
        <StripNote short="Images not stored" testId="queue-images-not-stored">
          The server cannot store images (its disk is full or unwritable): no job starts, and finished ones wait at 99
          %, until it can.
        </StripNote>
      </Show>
      <Show when={current()?.serverStopping}>
        <StripNote short="Server stopping" testId="queue-server-stopping">
          The server is stopping: running jobs may finish, and no job starts until Anvil runs again (a restart, or
          another server).
        </StripNote>
      </Show>
      <Show when={props.onSetPaused || props.onOpenLine}>
        <div class="queue-panel__admin">
          <Show when={props.onOpenLine}>
            {(open) => (
              <button type="button" class="button button--small" title="Waiting jobs" onClick={() => open()()}>
                <LineIcon />
                <span class="button__label">Waiting jobs</span>
              </button>
            )}
          </Show>
          <Show when={props.onSetPaused}>
            {(setPaused) => (
              <PauseButton paused={props.status?.paused} onSetPaused={setPaused()} connection={props.connection} />
            )}
          </Show>
        </div>
      </Show>
      <h3>GPUs</h3>
      <Show when={cancelError()}>
        <p class="field-error" role="alert">
          {cancelError()}
        </p>
      </Show>
      <ul ref={list} class="backends" tabIndex={-1} aria-label="GPUs">
        <For each={props.status?.backends ?? []} fallback={<li class="backends__empty">No backend reported yet</li>}>
          {(backend) => {
            const state = () =>
              stale()
                ? "unknown"
                : !backend.healthy
                  ? backend.unavailable === "busy-elsewhere"
                    ? "elsewhere"
                    : backend.unavailable === "unprobed"
                      ? "checking"
                      : "down"
                  : backend.stopping
                    ? "stopping"
                    : backend.busy
                      ? backend.loadingModel === true
                        ? "loading"
                        : "busy"
                      : "idle";
            const jobText = createUniqueId();
            return (
              <li class={`backend backend--${state()}`}>
                <span class="backend__dot" aria-hidden="true" />
                <span class="backend__name">{backendLabel(backend.url)}</span>
                <span class="backend__state">{STATE_LABEL[state()]}</span>
                <Show when={!stale() && backend.jobId}>
                  {(jobId) => (
                    <span class="backend__running">
                      {/* Cut short beside an admin's Cancel: whole in its tooltip, as a Waiting jobs row's is. */}
                      <span id={jobText} class="backend__job" title={props.promptOf(jobId())}>
                        {props.promptOf(jobId()) ?? `Job ${jobId().slice(0, 8)}`}
                      </span>
                      <Show when={props.onCancelJob}>
                        {(onCancelJob) => (
                          <button
                            type="button"
                            class="button button--small"
                            disabled={cancelling() === jobId()}
                            aria-label={`Cancel the job on ${backendLabel(backend.url)}`}
                            // Which job, where the prompt is cut short (a narrow screen's strip): said in full.
                            aria-describedby={jobText}
                            title="Cancel this job, whoever's it is: its GPU is interrupted and takes the next"
                            onClick={() => void cancelJob(jobId(), onCancelJob())}
                          >
                            Cancel
                          </button>
                        )}
                      </Show>
                    </span>
                  )}
                </Show>
              </li>
            );
          }}
        </For>
      </ul>
    </aside>
  );
}

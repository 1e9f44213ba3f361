import { createSignal, For, Show } from "solid-js";
import { actionFailure } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import type { Line } from "../lib/line";
import type { Job } from "../lib/types";
import { ConnectionStatus } from "./connection-status";
import { Dialog } from "./dialog";
import { Estimate } from "./estimate";
import { PauseButton } from "./pause-button";

/** The rows shown at most; a longer line says how many more wait behind them. */
export const LINE_ROWS = 200;

/**
 * Admins' view of the line: everyone's waiting jobs in the order they will start (position, owner, prompt, when it is
 * expected to start), live,
 * with Pause / Resume and "To front" (the very next job to start, whoever's turn it is).
 */
export function LinePanel(props: {
  line: Line;
  paused: boolean | undefined;
  onSetPaused: (paused: boolean) => Promise<unknown>;
  onClose: () => void;
}) {
  const [error, setError] = createSignal<string | null>(null);
  const [moving, setMoving] = createSignal<string | null>(null);
  const shown = () => props.line.waiting().slice(0, LINE_ROWS);
  const more = () => props.line.waiting().length - shown().length;
  let list: HTMLOListElement | undefined;
  const toFront = async (job: Job) => {
    setMoving(job.id);
    setError(null);
    try {
      await props.line.moveToFront(job);
    } catch (e) {
      setError(actionFailure("move", e));
    } finally {
      setMoving(null);
    }
    // Every To front is disabled while a move runs, and the moved job's stays so (it is first now): the browser
    // took the focus from it. A keyboard user stays in the line, on it, not on the page behind the dialog.
    if (focusFellToPage()) list?.focus();
  };
  return (
    <Dialog
      title="Waiting jobs"
      class="line-panel"
      onClose={props.onClose}
      actions={<PauseButton paused={props.paused} onSetPaused={props.onSetPaused} />}
    >
      <div class="line-panel__summary">
        <p>
          <Show when={props.paused}>
            <strong>Paused: no job starts until the queue is resumed. </strong>
          </Show>
          Everyone's waiting jobs, first to start first. Users take turns; "To front" makes a job the very next.
        </p>
        <ConnectionStatus state={props.line.connection()} />
      </div>
      <Show when={props.line.error() ?? error()}>
        {(message) => (
          <div class="banner" role="alert">
            <span>{message()}</span>
            <Show when={props.line.error()}>
              <button type="button" class="button" onClick={() => props.line.reload()}>
                Try again
              </button>
            </Show>
          </div>
        )}
      </Show>
      <Show
        when={props.line.waiting().length > 0}
        fallback={
          <p class="line-panel__empty">{props.line.loading() ? "Reading the line…" : "Nobody's jobs are waiting."}</p>
        }
      >
        <ol ref={list} class="line" tabIndex={-1} aria-label="Waiting jobs in start order">
          <For each={shown()}>
            {(job) => (
              <li class="line__row" data-job-id={job.id}>
                <span class="line__position">#{job.queuePosition}</span>
                <span class="line__owner">{job.owner}</span>
                <span class="line__prompt" title={job.prompt}>
                  {job.prompt}
                </span>
                <span class="line__eta">
                  <Show when={job.estimatedStartAt}>{(at) => <Estimate kind="start" at={at()} />}</Show>
                </span>
                <button
                  type="button"
                  class="button button--small"
                  disabled={moving() !== null || job.queuePosition === 1}
                  aria-label={`Move ${job.owner}'s "${job.prompt}" to the front`}
                  onClick={() => void toFront(job)}
                >
                  To front
                </button>
              </li>
            )}
          </For>
        </ol>
        <Show when={more() > 0}>
          <p class="line-panel__more">and {more()} more waiting behind them</p>
        </Show>
      </Show>
    </Dialog>
  );
}

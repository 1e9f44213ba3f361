import { createSignal, For, Show } from "solid-js";
import { whenLiveAgain } from "../lib/subscription";
import { currentUser } from "../lib/auth";
import { actionFailure, UNREACHABLE } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import { counted, wholeNumber } from "../lib/format";
import type { Line } from "../lib/line";
import type { Job } from "../lib/types";
import { ConnectionStatus } from "./connection-status";
import { CancelQuestion, cancelledMessage } from "./cancel-waiting";
import { Dialog } from "./dialog";
import { Estimate } from "./estimate";
import { ClearQueueIcon } from "./icons";
import { PauseButton } from "./pause-button";

/** The rows shown (and read) at most; a longer line says how many more wait behind them. */
export const LINE_ROWS = 200;

/**
 * Admins' view of the line: everyone's waiting jobs in the order they will start (position, owner, prompt, when it is
 * expected to start), live,
 * with Pause / Resume, "To front" (the very next job to start, whoever's turn it is), a row's Cancel and "Cancel all
 * waiting".
 */
export function LinePanel(props: {
  line: Line;
  paused: boolean | undefined;
  onSetPaused: (paused: boolean) => Promise<unknown>;
  onClose: () => void;
}) {
  const [error, setError] = createSignal<string | null>(null);
  const [moving, setMoving] = createSignal<string | null>(null);
  const [clearing, setClearing] = createSignal(false);
  const [cleared, setCleared] = createSignal<string | null>(null);
  let clearedNote: HTMLParagraphElement | undefined;
  // "Cannot be reached" after a To front or a Cancel goes once the line's stream is live again, as the Pause's does.
  whenLiveAgain(
    () => props.line.connection(),
    () => {
      if (error() === UNREACHABLE) setError(null);
    },
  );
  // The server refuses a non-admin's `everyone` (FORBIDDEN); the action is not offered to one at all.
  const mayClear = () => currentUser()?.admin === true;
  // "Cancel all waiting" asks first, in the dialog, under its summary; the button waits, pressed, until it is answered.
  const [asking, setAsking] = createSignal(false);
  let askButton: HTMLButtonElement | undefined;
  let summary!: HTMLDivElement;
  /**
   * Takes the question back: the keyboard goes back to "Cancel all waiting", or, when it went as the line emptied
   * meanwhile, to the dialog, not to the page behind it.
   */
  const keep = () => {
    if (clearing()) return;
    setAsking(false);
    (askButton?.isConnected ? askButton : summary.closest<HTMLElement>('[role="dialog"]'))?.focus();
  };
  const cancelAll = async () => {
    if (clearing()) return;
    setClearing(true);
    setError(null);
    setCleared(null);
    try {
      const jobIds = await props.line.cancelAll();
      setCleared(cancelledMessage(jobIds.length, "the"));
    } catch (e) {
      setError(actionFailure("cancel", e));
    } finally {
      setClearing(false);
      setAsking(false);
    }
    // The pressed button was disabled while the call ran, and went with the question: a keyboard user stays in the
    // dialog, on what it says now (not on Pause queue, which one more Enter would press for everyone).
    if (focusFellToPage()) (cleared() ? clearedNote : list)?.focus();
  };
  // One job alone, say a removed user's: "Cancel all waiting" would take everyone's with it.
  const [cancelling, setCancelling] = createSignal<string | null>(null);
  const cancelOne = async (job: Job) => {
    if (cancelling() !== null) return;
    setCancelling(job.id);
    setError(null);
    setCleared(null);
    try {
      await props.line.cancel(job);
    } catch (e) {
      setError(actionFailure("cancel", e));
    } finally {
      setCancelling(null);
    }
    // The pressed button went with its row: a keyboard user stays in the line, not on the page behind the dialog.
    if (focusFellToPage()) list?.focus();
  };
  const shown = () => props.line.waiting().slice(0, LINE_ROWS);
  const more = () => props.line.total() - shown().length;
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
      actions={
        <>
          <Show when={mayClear() && (props.line.waiting().length > 0 || asking())}>
            <button
              ref={askButton}
              type="button"
              class="button button--small"
              disabled={clearing()}
              aria-expanded={asking()}
              title="Cancel every user's waiting jobs; jobs already generating go on"
              onClick={() => setAsking(true)}
            >
              <ClearQueueIcon /> Cancel all waiting
            </button>
          </Show>
          <PauseButton paused={props.paused} onSetPaused={props.onSetPaused} connection={props.line.connection()} />
        </>
      }
    >
      <div ref={summary} class="line-panel__summary">
        <p>
          <Show when={props.paused}>
            <strong>Paused: no job starts until the queue is resumed. </strong>
          </Show>
          Everyone's waiting jobs, first to start first. Users take turns; "To front" makes a job the very next.
        </p>
        <ConnectionStatus state={props.line.connection()} />
      </div>
      <Show when={asking()}>
        {/* Counted as the line stands now: a job that starts meanwhile generates on. */}
        <CancelQuestion
          question={
            `Cancel all ${counted(props.line.total(), "waiting job", "waiting jobs")} of ` +
            `${counted(props.line.users(), "user", "users")}? Jobs already generating go on. This cannot be undone.`
          }
          go="Cancel all"
          busy={clearing()}
          onGo={() => void cancelAll()}
          onKeep={keep}
        />
      </Show>
      <Show when={cleared()}>
        <p ref={clearedNote} class="line-panel__cleared" role="status" tabIndex={-1}>
          {cleared()}
        </p>
      </Show>
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
                  <Show when={job.estimatedStartAt}>{(at) => <Estimate kind="start" at={at()} job={job} />}</Show>
                </span>
                <span class="line__actions">
                  <button
                    type="button"
                    class="button button--small"
                    disabled={moving() !== null || job.queuePosition === 1}
                    aria-label={`Move ${job.owner}'s "${job.prompt}" to the front`}
                    onClick={() => void toFront(job)}
                  >
                    To front
                  </button>
                  <Show when={mayClear()}>
                    <button
                      type="button"
                      class="button button--small"
                      disabled={cancelling() === job.id}
                      aria-label={`Cancel ${job.owner}'s "${job.prompt}"`}
                      title="Cancel this job only; the others wait on"
                      onClick={() => void cancelOne(job)}
                    >
                      Cancel
                    </button>
                  </Show>
                </span>
              </li>
            )}
          </For>
        </ol>
        <Show when={more() > 0}>
          <p class="line-panel__more">and {wholeNumber(more())} more waiting behind them</p>
        </Show>
      </Show>
    </Dialog>
  );
}

import { createEffect, createSignal, on, Show } from "solid-js";
import { actionFailure } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import { counted } from "../lib/format";
import { ClearQueueIcon } from "./icons";
import { QuestionAnswers, RowQuestion } from "./row-question";

/** The fewest waiting jobs for which the bar offers to cancel them all (one has its own Cancel on its card). */
export const CANCEL_ALL_FROM = 2;

/** What a "cancel all waiting" says once the server answered, from how many jobs it cancelled (of `whose`). */
export const cancelledMessage = (cancelled: number, whose: "your" | "the" = "your"): string =>
  cancelled === 0
    ? `Nothing was cancelled: ${whose} waiting jobs had all started or ended meanwhile.`
    : `Cancelled ${counted(cancelled, "waiting job", "waiting jobs")}.`;

/**
 * The question before waiting jobs are cancelled, in the page where its button is: Escape or "Keep them" takes it back
 * (`onKeep` puts the focus back on that button), and the go button says "Cancelling…" while the call runs.
 */
export function CancelQuestion(props: {
  question: string;
  /** What the go button says ("Cancel them"). */
  go: string;
  busy: boolean;
  onGo: () => void;
  onKeep: () => void;
}) {
  return (
    <RowQuestion question={props.question} onCancel={() => props.onKeep()}>
      <QuestionAnswers
        go={props.go}
        going="Cancelling…"
        keep="Keep them"
        busy={props.busy}
        onGo={() => props.onGo()}
        onKeep={() => props.onKeep()}
      />
    </RowQuestion>
  );
}

/**
 * The "clear my queue" of one conversation: a slim bar above the composer, shown while the user has at least
 * {@link CANCEL_ALL_FROM} jobs waiting in it, that cancels them all in one call after asking, in the bar (the question
 * takes its button's place, and Escape or "Keep them" brings the button back, focused). It says how many were
 * cancelled (or why none were), and what went wrong; the cards turn cancelled by themselves, from the live stream.
 */
export function CancelWaiting(props: {
  /** How many of the user's jobs wait in the open conversation. */
  count: number;
  /** Cancels them; resolves with the ids the server cancelled. */
  onCancelAll: () => Promise<readonly string[]>;
}) {
  const [asking, setAsking] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [result, setResult] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);
  // New prompts sent after a clear make the old "Cancelled 5" news no longer about what the page shows.
  createEffect(
    on(
      () => props.count,
      (now, before) => {
        if (before !== undefined && now > before && !busy()) setResult(null);
      },
      { defer: true },
    ),
  );
  let bar!: HTMLDivElement;
  let askButton: HTMLButtonElement | undefined;
  /**
   * Takes the question back: the keyboard goes back to the button that asked it, or to the prompt box when the bar
   * went with it (fewer jobs wait now than the bar is offered for).
   */
  const keep = () => {
    if (busy()) return;
    setAsking(false);
    (askButton?.isConnected ? askButton : document.getElementById("prompt"))?.focus();
  };
  const cancelAll = async () => {
    if (busy()) return;
    setBusy(true);
    setResult(null);
    setError(null);
    try {
      setResult(cancelledMessage((await props.onCancelAll()).length));
    } catch (e) {
      setError(actionFailure("cancel", e));
    } finally {
      setBusy(false);
      setAsking(false);
    }
    // The pressed button was disabled while the call ran, and went with the question: a keyboard user stays here, on
    // what the bar says (its OK), or on the bar's button if it is still offered, not at the top of the page.
    if (focusFellToPage()) bar.querySelector<HTMLElement>("button:not([disabled])")?.focus();
  };
  return (
    <Show when={props.count >= CANCEL_ALL_FROM || asking() || result() || error()}>
      <div ref={bar} class="cancel-waiting">
        <Show when={error()}>
          <p class="cancel-waiting__message cancel-waiting__message--error" role="alert">
            {error()}
          </p>
        </Show>
        {/* On the page with the bar, empty until there is news: a screen reader (VoiceOver above all) often says
            nothing of a live region that comes onto the page with its words, as the keyboard goes to OK meanwhile. */}
        <p class="cancel-waiting__message" role="status">
          {result()}
        </p>
        <Show when={(result() || error()) && !busy()}>
          <button
            type="button"
            class="button button--ghost button--small"
            onClick={() => {
              setResult(null);
              setError(null);
              // This bar may go with the message; the prompt box is where a person goes next.
              if (props.count < CANCEL_ALL_FROM) document.getElementById("prompt")?.focus();
            }}
          >
            OK
          </button>
        </Show>
        <Show when={props.count >= CANCEL_ALL_FROM && !asking()}>
          <button
            ref={askButton}
            type="button"
            class="button button--small cancel-waiting__button"
            title="Cancel every job of yours still waiting in this conversation; one already generating goes on"
            onClick={() => setAsking(true)}
          >
            <ClearQueueIcon /> {`Cancel ${props.count} waiting`}
          </button>
        </Show>
        <Show when={asking()}>
          {/* Counted as the jobs stand now: one that started meanwhile is not cancelled (it generates on). */}
          <CancelQuestion
            question={`Cancel your ${counted(props.count, "waiting job", "waiting jobs")} in this conversation? A job already generating goes on.`}
            go="Cancel them"
            busy={busy()}
            onGo={() => void cancelAll()}
            onKeep={keep}
          />
        </Show>
      </div>
    </Show>
  );
}

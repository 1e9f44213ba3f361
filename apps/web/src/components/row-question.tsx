import { createUniqueId, onMount } from "solid-js";
import type { JSX } from "solid-js";

/**
 * A question asked in the page before something that cannot be undone, where the button that asks it is (a list's row,
 * the bar above the composer, a dialog): the browser's confirm() has no room for a choice, cannot be styled (the dark
 * theme), names the page's address as its title, and some browsers stop showing it after a few. The focus moves into
 * it, so that a screen reader reads the question out; Tab goes on to its controls (`children`), and Escape calls
 * `onCancel`, which puts the focus back where the question was asked from.
 */
export function RowQuestion(props: {
  /** The question, in words. */
  question: JSX.Element;
  onCancel: () => void;
  /** Its choices and buttons, under the question. */
  children: JSX.Element;
}) {
  const questionId = createUniqueId();
  let box!: HTMLDivElement;
  onMount(() => box.focus());
  return (
    <div
      ref={box}
      class="row-question"
      role="group"
      aria-labelledby={questionId}
      tabIndex={-1}
      // Escape takes the question back, not the dialog or drawer it is in (their Escape listens on the document).
      on:keydown={(e) => {
        if (e.key !== "Escape") return;
        e.stopPropagation();
        props.onCancel();
      }}
    >
      <p id={questionId}>{props.question}</p>
      {props.children}
    </div>
  );
}

/**
 * A question's two answers, side by side: the one that goes ahead, which says so and takes no second press while it
 * runs, and the one that takes the question back.
 */
export function QuestionAnswers(props: {
  /** What going ahead does, in a word or two ("Delete"). */
  go: JSX.Element;
  /** What the go button says while it runs ("Deleting…"). */
  going: string;
  /** What taking the question back says ("Cancel", "Keep bob"). */
  keep: string;
  busy: boolean;
  onGo: (pressed: HTMLButtonElement) => void;
  onKeep: () => void;
}) {
  return (
    <div class="row-question__actions">
      <button
        type="button"
        class="button button--small button--primary"
        disabled={props.busy}
        aria-busy={props.busy}
        onClick={(e) => props.onGo(e.currentTarget)}
      >
        {props.busy ? props.going : props.go}
      </button>
      <button type="button" class="button button--small" disabled={props.busy} onClick={() => props.onKeep()}>
        {props.keep}
      </button>
    </div>
  );
}

import { createUniqueId, onMount } from "solid-js";
import type { JSX } from "solid-js";

/**
 * A question asked in a list's row before something that cannot be undone: the browser's confirm() has no room for a
 * choice, cannot be styled (the dark theme), names the page's address as its title, and some browsers stop showing it
 * after a few. The focus moves into it, so that a screen reader reads the question out; Tab goes on to its controls
 * (`children`), and Escape calls `onCancel`, which puts the focus back where the question was asked from.
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

import { createUniqueId, onCleanup, onMount } from "solid-js";
import type { JSX } from "solid-js";

/**
 * A modal dialog over the page: its title, its header actions and Close; Escape closes it too, and the focus goes
 * back to where it was when it closes.
 */
export function Dialog(props: {
  title: string;
  /** Extra class of the dialog box (its width, its layout). */
  class?: string;
  onClose: () => void;
  /** Controls beside Close in the header. */
  actions?: JSX.Element;
  children: JSX.Element;
}) {
  const titleId = createUniqueId();
  let box!: HTMLElement;
  const opener = document.activeElement;
  onMount(() => {
    // Into the dialog, so Tab and a screen reader start there.
    (box.querySelector<HTMLElement>("input, button:not([disabled])") ?? box).focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onClose();
    };
    document.addEventListener("keydown", onKey);
    onCleanup(() => {
      document.removeEventListener("keydown", onKey);
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    });
  });
  return (
    <div class="dialog-backdrop">
      <section
        ref={box}
        tabIndex={-1}
        class={`dialog ${props.class ?? ""}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
      >
        <header class="dialog__header">
          <h2 id={titleId}>{props.title}</h2>
          <div class="dialog__actions">
            {props.actions}
            <button type="button" class="button" onClick={() => props.onClose()}>
              Close
            </button>
          </div>
        </header>
        {props.children}
      </section>
    </div>
  );
}

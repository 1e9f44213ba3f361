import { createUniqueId, onCleanup, onMount } from "solid-js";
import type { JSX } from "solid-js";

/** The controls Tab stops at (a disabled one it skips, so it is never the first or last of them). */
const TABBABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** For a modal's keydown on Tab: Tab and Shift+Tab cycle through `box`'s own controls, never to the page behind it. */
export function keepFocusInside(box: HTMLElement, e: KeyboardEvent) {
  const controls = [...box.querySelectorAll<HTMLElement>(TABBABLE)];
  const first = controls[0];
  const last = controls.at(-1);
  if (!first || !last) return;
  const inside = box.contains(document.activeElement);
  if (e.shiftKey && (document.activeElement === first || !inside)) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
    e.preventDefault();
    first.focus();
  }
}

/**
 * Makes `box` act as a modal for as long as the calling owner (a component, an effect) lives: the focus moves to
 * `initialFocus`, Tab and Shift+Tab stay among `box`'s controls, Escape calls `onClose`, and at the end the focus
 * goes back to `returnTo` (by default what held it when this was called) if that is still on the page.
 */
export function useModal(
  box: HTMLElement,
  options: { onClose: () => void; initialFocus: HTMLElement | null | undefined; returnTo?: HTMLElement },
) {
  const opener = options.returnTo ?? document.activeElement;
  options.initialFocus?.focus();
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") options.onClose();
    if (e.key === "Tab") keepFocusInside(box, e);
  };
  document.addEventListener("keydown", onKey);
  onCleanup(() => {
    document.removeEventListener("keydown", onKey);
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
}

/**
 * A modal dialog over the page: its title, its header actions and Close; Escape closes it too, Tab stays inside it,
 * and the focus goes back to where it was when it closes.
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
  let close!: HTMLButtonElement;
  const opener = document.activeElement;
  onMount(() =>
    useModal(box, {
      onClose: () => props.onClose(),
      // On its first text field (a form to fill in), else on Close: the first control can be an action such as
      // "Pause queue", which one Enter right after opening would press for everyone.
      initialFocus:
        box.querySelector<HTMLElement>('input:not([type="checkbox"]):not([type="radio"]):not([disabled]), textarea') ??
        close,
      ...(opener instanceof HTMLElement ? { returnTo: opener } : {}),
    }),
  );
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
            <button type="button" class="button" ref={close} onClick={() => props.onClose()}>
              Close
            </button>
          </div>
        </header>
        {props.children}
      </section>
    </div>
  );
}

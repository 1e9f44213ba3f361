import { onCleanup, onMount } from "solid-js";
import type { Job } from "../lib/types";
import { mediaBox } from "./job-media";

/** The full-size image of a finished job, over the page; Escape or a click outside closes it. */
export function Lightbox(props: { job: Job; onClose: () => void }) {
  let close!: HTMLButtonElement;
  let dialog!: HTMLDivElement;
  const opener = document.activeElement as HTMLElement | null;
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") props.onClose();
    if (e.key === "Tab") keepFocusInside(e);
  };
  // A modal dialog: Tab and Shift+Tab cycle through its own controls, never to the page behind it.
  const keepFocusInside = (e: KeyboardEvent) => {
    const controls = [...dialog.querySelectorAll<HTMLElement>("a[href], button")];
    const first = controls[0];
    const last = controls.at(-1);
    if (!first || !last) return;
    const inside = dialog.contains(document.activeElement);
    if (e.shiftKey && (document.activeElement === first || !inside)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
      e.preventDefault();
      first.focus();
    }
  };
  onMount(() => {
    close.focus();
    document.addEventListener("keydown", onKey);
  });
  onCleanup(() => {
    document.removeEventListener("keydown", onKey);
    opener?.focus();
  });
  return (
    <div
      ref={dialog}
      class="lightbox"
      role="dialog"
      aria-modal="true"
      aria-label={props.job.prompt}
      onClick={(e) => e.target === e.currentTarget && props.onClose()}
    >
      <figure class="lightbox__figure" style={mediaBox(props.job)}>
        <img src={props.job.imageUrl ?? ""} alt={props.job.prompt} />
        <figcaption>
          <span class="lightbox__prompt">{props.job.prompt}</span>
          <a class="button button--ghost" href={props.job.imageUrl ?? ""} download={`anvil-${props.job.id}.png`}>
            Download
          </a>
          <button type="button" class="button" ref={close} onClick={() => props.onClose()}>
            Close
          </button>
        </figcaption>
      </figure>
    </div>
  );
}

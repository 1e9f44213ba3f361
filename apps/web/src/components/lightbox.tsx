import { createSignal, onCleanup, onMount, Show } from "solid-js";
import type { Job } from "../lib/types";
import { clipboardCopy, copyOrSelect } from "../lib/clipboard";
import { shortPrompt } from "../lib/format";
import { keepFocusInside } from "./dialog";
import { mediaBox } from "./job-media";

/** The full-size image of a finished job with its seed, over the page; Escape or a click outside closes it. */
export function Lightbox(props: {
  job: Job;
  onClose: () => void;
  /** Puts text on the clipboard (the seed); rejects where the browser does not allow it. */
  copy?: (text: string) => Promise<void>;
}) {
  let close!: HTMLButtonElement;
  let dialog!: HTMLDivElement;
  let seedBox: HTMLElement | undefined;
  const opener = document.activeElement as HTMLElement | null;
  const seed = () => props.job.usedSeed ?? props.job.params.seed;
  const [copied, setCopied] = createSignal<"copied" | "selected" | null>(null);
  const copySeed = () =>
    copyOrSelect(props.copy ?? clipboardCopy, String(seed()), seedBox).then((copied) =>
      setCopied(copied ? "copied" : "selected"),
    );
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") props.onClose();
    if (e.key === "Tab") keepFocusInside(dialog, e);
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
      // A name, not the whole prompt (up to 4,000 characters), spoken as the view opens: the caption has it all.
      aria-label={shortPrompt(props.job.prompt)}
      onClick={(e) => e.target === e.currentTarget && props.onClose()}
    >
      <figure class="lightbox__figure" style={mediaBox(props.job)}>
        <img src={props.job.imageUrl ?? ""} alt={props.job.prompt} />
        <figcaption>
          <span class="lightbox__prompt">{props.job.prompt}</span>
          {/* -1 is "random" as asked, not a seed: a job that ended without telling which it used has none to show. */}
          <Show when={seed() !== -1}>
            <span class="lightbox__seed">
              Seed <code ref={seedBox}>{seed()}</code>
            </span>
            <button type="button" class="button button--ghost" onClick={() => void copySeed()}>
              {copied() === "copied" ? "Copied" : copied() === "selected" ? "Selected: Ctrl+C" : "Copy seed"}
            </button>
          </Show>
          <a class="button button--ghost" href={props.job.imageUrl ?? ""} download={`anvil-${props.job.id}`}>
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

import { createEffect, createSignal, createUniqueId, Match, on, onCleanup, Show, Switch } from "solid-js";
import { actionFailure, UNREACHABLE } from "../lib/errors";
import type { JobAction } from "../lib/errors";
import { focusFellToPage } from "../lib/focus";
import { actionName, cancelledWords, counted, formatElapsed, formatSize, movedWords, msBetween } from "../lib/format";
import type { Job, JobStatus } from "../lib/types";
import { Elapsed } from "./elapsed";
import { JobMedia } from "./job-media";

/** How long a note on a move that changed nothing stays. */
const NOTE_MS = 8_000;

/** Why a job waits (or runs) again: its last run was cut short by a server or a GPU that went away (Job.attempt). */
const RUN_AGAIN = " · it runs again: its last run was cut short by a server or GPU that went away";

const STATUS_LABEL: Record<JobStatus, string> = {
  queued: "Queued",
  processing: "Generating",
  complete: "Done",
  error: "Failed",
  cancelled: "Cancelled",
};

/** What a card can ask of the page; each may fail, and the card says why. */
export interface JobCardProps {
  job: Job;
  onCancel?: (job: Job) => Promise<unknown> | void;
  onRetry?: (job: Job) => Promise<unknown> | void;
  /** Moves a waiting job to the front or back of its owner's own waiting jobs; resolves with it at its new place. */
  onMove?: (job: Job, to: "front" | "back") => Promise<Job | undefined | void> | void;
  onView?: (job: Job) => void;
  /** Puts the job's prompt and settings in the composer, to send them again changed or as they are. */
  onReuse?: (job: Job) => void;
  /** The queue is paused: a waiting job says that is why it waits. */
  paused?: boolean | undefined;
  /**
   * The server cannot store images (its disk is full or unwritable): a waiting job says nothing starts until it can,
   * and a running one whose GPU is done says its image waits to be stored.
   */
  imagesNotStored?: boolean | undefined;
  /**
   * The server that starts jobs is stopping (a restart's grace): a waiting job says it starts once Anvil runs again,
   * instead of "Waiting for a GPU" while a GPU is free.
   */
  serverStopping?: boolean | undefined;
  /**
   * The live connection is lost: a waiting or running job's place and progress are the last the page heard, and
   * it says so instead of counting down to a start or an end it cannot see.
   */
  offline?: boolean | undefined;
  /**
   * The backend the job runs on does not answer its probes: a running job says so instead of counting on (the
   * server sends it back to the front of the line, for another GPU, unless its backend comes back).
   */
  backendDown?: boolean | undefined;
  /**
   * The job sets up and loads its checkpoint on its GPU (often 30–60 s for Flux): its progress stays near 0 meanwhile,
   * so the card says so instead of a countdown that has run out ("ready any moment").
   */
  loadingModel?: boolean | undefined;
  /**
   * No backend answers its probes: a waiting job says it starts once one is back, instead of counting down to a start
   * that cannot come (on a phone the queue strip that says so may be scrolled out of view).
   */
  noGpu?: boolean | undefined;
}

/** What a running card says while its backend does not answer. */
export const BACKEND_DOWN_DETAIL =
  "Its GPU stopped answering: the job goes back to the front of the line unless the GPU comes back";

/** What a running card says while its job loads its checkpoint on the GPU. */
export const LOADING_MODEL_DETAIL =
  "Loading its model on the GPU (often 30–60 s for a Flux checkpoint): the progress starts once it is loaded";

/** What a waiting card says while no backend answers. */
export const NO_GPU_DETAIL = "Waiting for a GPU: none answers right now, so it starts once one is back";

/** What a waiting card says while the server cannot store images. */
export const IMAGES_NOT_STORED_DETAIL =
  "Waiting: the server cannot store images right now, so nothing starts until it can";

/** What a waiting card says while the server that starts jobs is stopping. */
export const SERVER_STOPPING_DETAIL =
  "Waiting: the server is stopping, so it starts once Anvil runs again (a restart, or another server)";

/** What a waiting or running card says while the page cannot hear from the server. */
export const OFFLINE_DETAIL = "Reconnecting to the server: this is where the job stood";

const paramsLine = (job: Job): string =>
  [
    // None chosen: whichever the backend had loaded, as the composer's Checkpoint says ("Loaded model").
    job.params.checkpoint ?? "loaded model",
    // The scheduler beside its sampler, as Forge names the pair ("DPM++ 2M Karras"); none: Forge's own choice.
    job.params.scheduler === null ? job.params.sampler : `${job.params.sampler} ${job.params.scheduler}`,
    `CFG ${job.params.cfgScale}`,
    job.params.seed === -1 ? "random seed" : `seed ${job.params.seed}`,
    // Why it waits where it does: a priority moves it among its owner's own jobs.
    ...(job.priority === 0 ? [] : [`priority ${job.priority}`]),
  ].join(" · ");

/** One image job, always in its true state; every part of it keeps its size when the state changes. */
export function JobCard(props: JobCardProps) {
  const [busy, setBusy] = createSignal(false);
  const [actionError, setActionError] = createSignal<string | null>(null);
  // An action's failure belongs to the state it was tried in: once the job moves on (or runs again), it is old news.
  createEffect(on([() => props.job.status, () => props.job.attempt], () => setActionError(null), { defer: true }));
  // Nor does "the server cannot be reached" outlive the connection's return: the page hears from it again.
  createEffect(
    on(
      () => props.offline,
      (offline, was) => {
        if (!offline && was && actionError() === UNREACHABLE) setActionError(null);
      },
      { defer: true },
    ),
  );
  // Said after a move that changed nothing: the job already was where it was asked to go; gone once its place changes,
  // or after a while (a job at #1 keeps its place until it starts).
  const [note, setNote] = createSignal<string | null>(null);
  let noteTimer: ReturnType<typeof setTimeout> | undefined;
  const sayNote = (text: string) => {
    setNote(text);
    clearTimeout(noteTimer);
    noteTimer = setTimeout(() => setNote(null), NOTE_MS);
  };
  onCleanup(() => clearTimeout(noteTimer));
  createEffect(
    on(
      () => props.job.queuePosition,
      () => setNote(null),
      { defer: true },
    ),
  );
  let card!: HTMLElement;
  let foot!: HTMLElement;
  /** The control of this card that last had the keyboard focus. */
  let lastFocused: HTMLElement | null = null;
  /**
   * Keeps a keyboard user on this card when the focus fell to the page: a pressed button is disabled while its
   * action runs (the browser takes the focus from a disabled control), and the button may go with the state it
   * belonged to (Cancel on a cancelled job, whether the answer or the stream tells it first). The focus goes back
   * to it if it is there, else to the card's next action; it does not scroll a reader who has scrolled away.
   */
  const keepFocus = (was: HTMLElement | null) => {
    if (!was || !focusFellToPage()) return;
    const back = was.isConnected && !was.matches(":disabled") ? was : null;
    (back ?? foot.querySelector<HTMLElement>("a, button:not([disabled])") ?? card).focus({ preventScroll: true });
  };
  // While an action runs, its end sees to the focus (its buttons are disabled until then).
  createEffect(
    on([() => props.job.status, () => props.job.attempt], () => busy() || keepFocus(lastFocused), { defer: true }),
  );
  const run = async (kind: JobAction, action: ((job: Job) => Promise<unknown> | void) | undefined) => {
    if (!action || busy()) return;
    const focused = document.activeElement instanceof HTMLElement && card.contains(document.activeElement);
    setBusy(true);
    setActionError(null);
    setNote(null);
    try {
      await action(props.job);
    } catch (error) {
      setActionError(actionFailure(kind, error));
    } finally {
      setBusy(false);
    }
    if (focused) keepFocus(lastFocused);
  };
  const move = (to: "front" | "back", onMove: NonNullable<JobCardProps["onMove"]>) =>
    run("move", async (job) => {
      // Read now: the job is live, and the stream may bring its new place before the answer does.
      const before = job.queuePosition;
      const moved = await onMove(job, to);
      if (moved && moved.queuePosition === before) {
        sayNote(to === "front" ? "Already ahead of your other waiting jobs" : "Already behind your other waiting jobs");
      }
    });
  // A long error (Forge's own text runs to 2,000 characters) is cut at three lines to keep the card's size;
  // the rest was only in a hover title, out of reach by touch or keyboard. Where it is cut, a button shows all.
  const errorId = createUniqueId();
  const [errorCut, setErrorCut] = createSignal(false);
  const [errorOpen, setErrorOpen] = createSignal(false);
  createEffect(
    on(
      () => props.job.error,
      () => setErrorOpen(false),
      { defer: true },
    ),
  );
  const watchError = (text: HTMLElement) => {
    // Measured only while cut short: opened, the text is whole, and the button stays to close it again.
    const measure = () => {
      if (!errorOpen()) setErrorCut(text.scrollHeight > text.clientHeight + 1);
    };
    queueMicrotask(measure);
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(text);
    onCleanup(() => observer.disconnect());
  };
  const active = () => props.job.status === "queued" || props.job.status === "processing";
  const took = () => {
    const { startedAt, finishedAt } = props.job;
    return startedAt && finishedAt ? formatElapsed(msBetween(startedAt, finishedAt)) : null;
  };

  return (
    <article
      ref={card}
      onFocusIn={(e) => (lastFocused = e.target instanceof HTMLElement ? e.target : null)}
      tabIndex={-1}
      class="job-card"
      data-job-id={props.job.id}
      data-status={props.job.status}
      data-error-open={errorOpen() && props.job.status === "error" ? "" : undefined}
      aria-label={actionName("Image", props.job.prompt)}
    >
      <JobMedia
        job={props.job}
        onView={props.onView}
        uncertain={props.offline || (props.job.status === "processing" ? props.backendDown : props.noGpu)}
        loadingModel={props.job.status === "processing" && props.loadingModel}
        offline={props.offline}
      />
      <header class="job-card__head">
        <span class={`badge badge--${props.job.status}`}>{STATUS_LABEL[props.job.status]}</span>
        <span class="job-card__meta">
          {formatSize(props.job.params.width, props.job.params.height)} ·{" "}
          {counted(props.job.params.steps, "step", "steps")}
        </span>
      </header>
      <div class="job-card__body">
        {/* A heading, under the page's conversation title: a screen reader goes from card to card by headings. */}
        <h2 class="job-card__prompt">{props.job.prompt}</h2>
        {/* What the image was asked to leave out, on one line; whole in its title where the card cuts it. */}
        <Show when={props.job.params.negativePrompt.trim()}>
          {(negative) => (
            <p class="job-card__negative" title={negative()}>
              Negative: {negative()}
            </p>
          )}
        </Show>
        <Switch>
          <Match when={props.offline && active()}>
            <p class="job-card__detail">{OFFLINE_DETAIL}</p>
          </Match>
          <Match when={props.job.status === "queued"}>
            <p class="job-card__detail">
              {props.paused
                ? "Waiting: the queue is paused until an admin resumes it"
                : props.imagesNotStored
                  ? IMAGES_NOT_STORED_DETAIL
                  : props.serverStopping
                    ? SERVER_STOPPING_DETAIL
                    : props.noGpu
                      ? NO_GPU_DETAIL
                      : "Waiting for a GPU"}
              <Show when={movedWords(props.job)}>{(words) => <> · {words()}</>}</Show>
              <Show when={props.job.attempt > 1}>{RUN_AGAIN}</Show>
            </p>
          </Match>
          <Match when={props.job.status === "processing" && props.backendDown}>
            <p class="job-card__detail">{BACKEND_DOWN_DETAIL}</p>
          </Match>
          <Match when={props.job.status === "processing" && props.loadingModel}>
            <p class="job-card__detail">{LOADING_MODEL_DETAIL}</p>
          </Match>
          <Match when={props.job.status === "processing" && props.imagesNotStored && props.job.progress >= 99}>
            <p class="job-card__detail">Generated; the image waits until the server can store it</p>
          </Match>
          <Match when={props.job.status === "processing"}>
            <p class="job-card__detail">
              <Show when={props.job.startedAt} fallback="Starting…">
                {(since) => (
                  <>
                    Running for <Elapsed since={since()} />
                  </>
                )}
              </Show>
              <Show when={props.job.attempt > 1}>
                {" "}
                · attempt {props.job.attempt}, after a run cut short by a server or GPU that went away
              </Show>
            </p>
          </Match>
          <Match when={props.job.status === "complete"}>
            <p class="job-card__detail">
              Seed <code>{props.job.usedSeed ?? props.job.params.seed}</code>
              <Show when={took()}>{(t) => <> · took {t()}</>}</Show>
            </p>
          </Match>
          <Match when={props.job.status === "error"}>
            <p class="job-card__error" id={errorId} ref={watchError}>
              {props.job.error ?? "The generation failed"}
            </p>
          </Match>
          <Match when={props.job.status === "cancelled"}>
            <p class="job-card__detail">{cancelledWords(props.job)}; nothing was made.</p>
          </Match>
        </Switch>
        <p class="job-card__params">{paramsLine(props.job)}</p>
      </div>
      <footer ref={foot} class="job-card__foot">
        <Show when={actionError()}>
          <span class="job-card__action-error" role="alert">
            {actionError()}
          </span>
        </Show>
        <Show when={note() && props.job.status === "queued"}>
          <span class="job-card__note" role="status">
            {note()}
          </span>
        </Show>
        <Show when={props.job.status === "error" && (errorCut() || errorOpen())}>
          <button
            aria-label={actionName(errorOpen() ? "Show less" : "Whole error", props.job.prompt)}
            type="button"
            class="button button--ghost"
            aria-expanded={errorOpen()}
            aria-controls={errorId}
            onClick={() => setErrorOpen(!errorOpen())}
          >
            {errorOpen() ? "Show less" : "Whole error"}
          </button>
        </Show>
        <Show when={props.job.status === "complete" && props.job.imageUrl}>
          {(url) => (
            <a
              aria-label={actionName("Download", props.job.prompt)}
              class="button"
              href={url()}
              download={`anvil-${props.job.id}`}
            >
              Download
            </a>
          )}
        </Show>
        <Show when={props.job.status === "queued" && props.onMove}>
          {(onMove) => (
            <>
              <button
                aria-label={actionName("To front", props.job.prompt)}
                type="button"
                class="button"
                disabled={busy()}
                title="Start it before your other waiting jobs"
                onClick={() => void move("front", onMove())}
              >
                To front
              </button>
              <button
                aria-label={actionName("To back", props.job.prompt)}
                type="button"
                class="button"
                disabled={busy()}
                title="Start it after your other waiting jobs"
                onClick={() => void move("back", onMove())}
              >
                To back
              </button>
            </>
          )}
        </Show>
        <Show when={active()}>
          <button
            aria-label={actionName("Cancel", props.job.prompt)}
            type="button"
            class="button"
            disabled={busy()}
            onClick={() => run("cancel", props.onCancel)}
          >
            Cancel
          </button>
        </Show>
        <Show when={props.job.status === "error" || props.job.status === "cancelled"}>
          <button
            aria-label={actionName("Retry", props.job.prompt)}
            type="button"
            class="button"
            disabled={busy()}
            // What failed is said with what would try again; a cancelled job has no error to say.
            aria-describedby={props.job.status === "error" ? errorId : undefined}
            onClick={() => run("retry", props.onRetry)}
          >
            Retry
          </button>
        </Show>
        <Show when={!active() && props.onReuse}>
          {(reuse) => (
            <button
              aria-label={actionName("Reuse", props.job.prompt)}
              type="button"
              class="button"
              title="Put this prompt and its settings in the box below, to change them and send again"
              onClick={() => reuse()(props.job)}
            >
              Reuse
            </button>
          )}
        </Show>
      </footer>
    </article>
  );
}

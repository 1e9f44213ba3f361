import { createEffect, createMemo, createSignal, For, on, Show } from "solid-js";
import type { JSX } from "solid-js";
import { focusFellToPage } from "../lib/focus";
import type { Job, Message } from "../lib/types";
import { jobIdOf } from "../lib/types";
import { JobCard } from "./job-card";

/** What the page may ask of the message list. */
export interface MessageListControl {
  /** Scrolls to the newest message, and keeps following new ones (the user's own send, wherever they had scrolled). */
  showLatest(): void;
  /**
   * Shows the latest messages as {@link showLatest} does and, once the card of `jobId` (made from the card of `from`:
   * a retry) is there, gives it the keyboard focus, unless the focus has gone elsewhere than that card or the page
   * meanwhile. A keyboard user's focus otherwise stayed on a Retry scrolled far out of view, where Enter made
   * another job unseen.
   */
  showNewJob(jobId: string, from: string): void;
}

/**
 * How many of a conversation's latest messages are drawn, and how many more each "Show earlier" adds: a service that
 * puts thousands of jobs in one conversation would otherwise have the page lay out thousands of live cards, each
 * moved at every start and end in the line (3,000 cards took the page seconds per frame).
 */
export const MESSAGES_SHOWN = 200;

/** A conversation's messages in order: prompts as bubbles, image jobs as live cards; the latest {@link MESSAGES_SHOWN}. */
export function MessageList(props: {
  messages: readonly Message[];
  jobs: Readonly<Record<string, Job>>;
  onCancel: (job: Job) => Promise<unknown>;
  onRetry: (job: Job) => Promise<unknown>;
  onMove: (job: Job, to: "front" | "back") => Promise<Job | undefined | void>;
  onReuse?: (job: Job) => void;
  onView: (job: Job) => void;
  loading?: boolean;
  /** The queue is paused (waiting cards say so). */
  paused?: boolean | undefined;
  /** The server cannot store images (waiting and finishing cards say so). */
  imagesNotStored?: boolean | undefined;
  /** The server that starts jobs is stopping (waiting cards say they start once Anvil runs again). */
  serverStopping?: boolean | undefined;
  /** The live connection is lost (waiting and running cards say theirs is the last known state). */
  offline?: boolean | undefined;
  /** The backends (their URLs, as a job's `backend` names them) whose probes fail: a job running there says so. */
  unreachable?: ReadonlySet<string> | undefined;
  /** The backends (their URLs) whose job sets up and loads its checkpoint: a job running there says so. */
  loadingOn?: ReadonlySet<string> | undefined;
  /** No backend answers: waiting cards say they start once one is back. */
  noGpu?: boolean | undefined;
  /** Shown when the conversation has no messages (once it is loaded). */
  empty?: JSX.Element;
  /** Hands the page what it may ask of the list (see {@link MessageListControl}). */
  control?: (control: MessageListControl) => void;
}) {
  let scroller!: HTMLDivElement;
  const [shown, setShown] = createSignal(MESSAGES_SHOWN);
  // Another conversation opens at its latest messages.
  createEffect(
    on(
      () => props.messages[0]?.conversationId,
      () => setShown(MESSAGES_SHOWN),
      { defer: true },
    ),
  );
  const hidden = () => Math.max(0, props.messages.length - shown());
  const drawn = createMemo(() => (hidden() === 0 ? props.messages : props.messages.slice(hidden())));
  const showEarlier = () => {
    // The reader stays where they were: what is drawn above pushes the page down by its height.
    const before = scroller.scrollHeight;
    setShown((n) => n + MESSAGES_SHOWN);
    queueMicrotask(() => {
      scroller.scrollTop += scroller.scrollHeight - before;
      // The focused button goes once nothing earlier is left: a keyboard or screen reader user goes on at the first
      // message it revealed, rather than at the top of the page.
      if (!focusFellToPage()) return;
      const first = scroller.querySelector<HTMLElement>(".messages > li");
      if (!first) return;
      first.tabIndex = -1;
      first.focus({ preventScroll: true });
    });
  };
  // Follows new messages while the reader is at the bottom; leaves them be once they scroll up to older ones.
  let stick = true;
  const toBottom = () => queueMicrotask(() => scroller.scrollTo({ top: scroller.scrollHeight }));
  createEffect(
    on(
      () => props.messages.length,
      () => {
        if (stick) toBottom();
      },
    ),
  );
  const showLatest = () => {
    // The new messages may come after this (the page loads them once the send is answered): they are followed too.
    stick = true;
    toBottom();
  };
  const unreachable = (backend: string | null) => backend !== null && props.unreachable?.has(backend) === true;
  const cardOf = (jobId: string) => scroller.querySelector<HTMLElement>(`.job-card[data-job-id="${jobId}"]`);
  const [arriving, setArriving] = createSignal<{ jobId: string; from: string } | null>(null);
  createEffect(() => {
    const wanted = arriving();
    // Read to look again when the job or its message comes (the page loads them once the retry is answered).
    if (!wanted || !props.jobs[wanted.jobId] || props.messages.length === 0) return;
    queueMicrotask(() => {
      const card = cardOf(wanted.jobId);
      if (!card || arriving() !== wanted) return;
      setArriving(null);
      const focused = document.activeElement;
      if (!focused || focused === document.body || cardOf(wanted.from)?.contains(focused)) card.focus();
    });
  });
  props.control?.({
    showLatest,
    showNewJob: (jobId, from) => {
      showLatest();
      setArriving({ jobId, from });
    },
  });
  return (
    <div
      class="chat__scroll"
      ref={scroller}
      onScroll={() => {
        stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160;
      }}
    >
      <Show when={props.loading && props.messages.length === 0}>
        <p class="messages__loading" role="status">
          Loading the conversation…
        </p>
      </Show>
      <Show when={!props.loading && props.messages.length === 0}>{props.empty}</Show>
      <Show when={hidden() > 0}>
        <button type="button" class="button messages__earlier" onClick={showEarlier}>
          Show {Math.min(hidden(), MESSAGES_SHOWN)} earlier messages ({hidden()} not shown)
        </button>
      </Show>
      <ol class="messages">
        <For each={drawn()}>
          {(message) => {
            const jobId = jobIdOf(message);
            return (
              <li class={`message message--${message.role}`}>
                <Show
                  when={jobId !== undefined && props.jobs[jobId]}
                  fallback={
                    <Show when={jobId === undefined} fallback={<div class="job-card job-card--loading" />}>
                      <p class="bubble">{message.content}</p>
                    </Show>
                  }
                >
                  {(job) => (
                    <JobCard
                      job={job()}
                      onCancel={props.onCancel}
                      onRetry={props.onRetry}
                      onMove={props.onMove}
                      onReuse={props.onReuse}
                      onView={props.onView}
                      paused={props.paused}
                      imagesNotStored={props.imagesNotStored}
                      serverStopping={props.serverStopping}
                      offline={props.offline}
                      backendDown={unreachable(job().backend)}
                      loadingModel={props.loadingOn?.has(job().backend ?? "") === true}
                      noGpu={props.noGpu}
                    />
                  )}
                </Show>
              </li>
            );
          }}
        </For>
      </ol>
    </div>
  );
}

import { createEffect, createSignal, on, onCleanup } from "solid-js";
import { cancelledWords, counted, formatPosition, shortPrompt } from "../lib/format";
import type { Job, JobStatus } from "../lib/types";

/** What the page may ask of the announcer. */
export interface JobAnnouncerControl {
  /** Says where a job just sent stands ("Queued, #3 in queue: …"): the stream's first sight of a job says nothing. */
  sent(job: Job): void;
}

type Kind = "queued" | "next" | "started" | "done" | "failed" | "cancelled";

/** A summary's wording of each kind of news, for a burst of more than {@link SAY_EACH_UP_TO}. */
const SUMMARY: Record<Kind, [string, string]> = {
  queued: ["job waiting", "jobs waiting"],
  next: ["job next in line", "jobs next in line"],
  started: ["job started", "jobs started"],
  done: ["job done", "jobs done"],
  failed: ["job failed", "jobs failed"],
  cancelled: ["job cancelled", "jobs cancelled"],
};

/** Up to this many pieces of news arriving together are said one by one; more are counted by kind. */
const SAY_EACH_UP_TO = 3;

/** One piece of news: its job (as it is when the news is said), and its place in line when the news came. */
interface News {
  kind: Kind;
  job: Job;
  position: number;
}

const sentence = ({ kind, job, position }: News): string => {
  const prompt = shortPrompt(job.prompt);
  switch (kind) {
    case "queued":
      // Where it waits by now; where it waited, if it left the line since (it failed or was cancelled at once).
      return `Queued, ${formatPosition(job.status === "queued" ? job.queuePosition : position)}: ${prompt}.`;
    case "next":
      return `Next in line: ${prompt}.`;
    case "started":
      return `Started: ${prompt}.`;
    case "done":
      return `Done: ${prompt}.`;
    case "failed":
      return `Failed: ${prompt}. ${job.error ?? "The generation failed"}`;
    case "cancelled":
      return `${cancelledWords(job)}: ${prompt}.`;
  }
};

/** The news in a job's change from `before` to now, if any: progress and most moves in line are none. */
const newsOf = (before: { status: JobStatus; position: number }, job: Job): Kind | null => {
  if (job.status === before.status) {
    // Of every shift in line, only reaching the front is news: the card shows the rest to whoever looks.
    return job.status === "queued" && job.queuePosition === 1 && before.position > 1 ? "next" : null;
  }
  switch (job.status) {
    case "queued":
      return "queued";
    case "processing":
      return "started";
    case "complete":
      return "done";
    case "error":
      return "failed";
    case "cancelled":
      return "cancelled";
  }
};

/**
 * One polite live region for the open conversation's jobs: a job that starts, ends, fails, is cancelled, waits again
 * or comes next in line is said once, with its prompt. Progress and the many moves in line are not: they would
 * flood a screen reader with every percent and every card's shift. News arriving together (a burst after a
 * "cancel all", or after a reconnect) waits `delayMs` and is said at once, counted by kind when it is much.
 */
export function JobAnnouncer(props: {
  jobs: readonly Job[];
  /** The open conversation: its jobs, as first seen, are where they stand and no news. */
  conversationId: string | null;
  control?: (control: JobAnnouncerControl) => void;
  delayMs?: number;
}) {
  const [text, setText] = createSignal("");
  let known = new Map<string, { status: JobStatus; position: number }>();
  let pending: News[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(timer));
  const flush = () => {
    timer = undefined;
    // A job's coming next is no news beside its other news: "Queued, #1" already says it. Nor is its waiting once it
    // started (or ended) in the same breath: "Started" says where it is.
    const news = pending.filter(
      (n, _, all) =>
        (n.kind !== "next" || !all.some((o) => o.job.id === n.job.id && o.kind !== "next")) &&
        (n.kind !== "queued" || !all.some((o) => o.job.id === n.job.id && o.kind !== "queued" && o.kind !== "next")),
    );
    pending = [];
    if (news.length === 0) return;
    const said =
      news.length <= SAY_EACH_UP_TO
        ? news.map(sentence).join(" ")
        : (Object.keys(SUMMARY) as Kind[])
            .map((kind) => [kind, news.filter((n) => n.kind === kind).length] as const)
            .filter(([, n]) => n > 0)
            .map(([kind, n]) => `${counted(n, ...SUMMARY[kind])}.`)
            .join(" ");
    setText(said);
  };
  /**
   * Jobs said to be next in line while they wait: once is enough. Under fair turns another user's job can go in
   * ahead of one at #1, and back behind it, again and again.
   */
  let saidNext = new Set<string>();
  const tell = (kind: Kind, job: Job) => {
    if (kind === "next") {
      if (saidNext.has(job.id)) return;
      saidNext.add(job.id);
    }
    // Once it leaves the line (starts, ends), a job put back in it may be said to come next again.
    if (kind !== "next" && kind !== "queued") saidNext.delete(job.id);
    pending.push({ kind, job, position: job.queuePosition });
    timer ??= setTimeout(flush, props.delayMs ?? 400);
  };
  createEffect(
    on(
      () => props.conversationId,
      () => {
        known = new Map();
        saidNext = new Set();
        pending = [];
        setText("");
      },
    ),
  );
  createEffect(() => {
    const next = new Map<string, { status: JobStatus; position: number }>();
    for (const job of props.jobs) {
      const now = { status: job.status, position: job.queuePosition };
      const before = known.get(job.id);
      const kind = before && newsOf(before, job);
      if (kind) tell(kind, job);
      next.set(job.id, now);
    }
    known = next;
  });
  props.control?.({
    sent: (job) => {
      known.set(job.id, { status: job.status, position: job.queuePosition });
      tell(job.status === "processing" ? "started" : "queued", job);
    },
  });
  return (
    <div class="visually-hidden" role="status" aria-live="polite" aria-atomic="true" data-testid="job-announcer">
      {text()}
    </div>
  );
}

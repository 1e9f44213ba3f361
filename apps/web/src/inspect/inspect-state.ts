import { batch, createEffect, createMemo, createSignal, on, onCleanup } from "solid-js";
import { createStore, produce, reconcile } from "solid-js/store";
import { currentUser, recheckAuth } from "../lib/auth";
import { errorCode, errorMessage } from "../lib/errors";
import { isFinal } from "../lib/job-store";
import { createSubscription } from "../lib/subscription";
import { coalesced, throttled } from "../lib/tasks";
import { trpc } from "../lib/trpc";
import type { ActorsView, Charts, InspectionRecord, SchedulerView } from "./types";

/** At most this often the scheduler and actor views are read again while events stream in. */
export const REFRESH_MS = 250;
const LIST_LIMIT = 200;
/** How many of the scheduler's dispatch decisions the page lists, each named by its job's prompt. */
export const DECISIONS_SHOWN = 12;
const STATUS_RETRY_MS = 3_000;
/**
 * The views are also read this often while no event arrives: a GPU permit is released when its backend has
 * finished cleaning up, after the job's last event, and a backend's last error comes from its health probe.
 */
const POLL_MS = 2_000;

/**
 * Whether the page can inspect: unknown until `debug.status` answers; "forbidden" when the server says the
 * signed-in user is not an admin (the inspector's views are admin-only), which no retry changes.
 */
export type InspectionMode = "checking" | "on" | "off" | "forbidden";

/** The selected job's kept inspection events, oldest first. */
export interface TimelineState {
  jobId: string | null;
  events: InspectionRecord[];
  /** The job's first events have left the server's ring. */
  truncated: boolean;
  loading: boolean;
  error: string | null;
}

/** The state value a snapshot shows, as the chart's state key. */
export const stateKey = (state: unknown): string | null => {
  if (typeof state === "string") return state;
  if (state && typeof state === "object") return Object.keys(state)[0] ?? null;
  return null;
};

const jobFromUrl = (): string | null => new URLSearchParams(location.search).get("job");

/** A job as the server stores it (`jobs.get`): its status, attempt, backend and error outlast the inspection ring. */
export type StoredJob = Awaited<ReturnType<typeof trpc.jobs.get.query>>;

/** Whether the stored job (if any) has ended: its stored state will not change any more. */
const ended = (job: StoredJob | null | undefined): boolean => job != null && isFinal(job.status);

/**
 * A finished job whose own actor left no snapshot (cancelled before it started: it never had an actor) shows the
 * status the server stored instead of no state at all.
 */
const withStoredStates = (list: ActorsView, finals: Record<string, string>): ActorsView => ({
  ...list,
  finished: list.finished.map((actor) => {
    const stored = finals[actor.jobId];
    return actor.state === null && stored ? { ...actor, state: stored } : actor;
  }),
});

/**
 * Everything /inspect shows: the charts, whether inspection is on, the scheduler and actor views (read again,
 * throttled, whenever `debug.inspect` reports an event), and the selected job's timeline (`debug.timeline`,
 * then `debug.inspect` for that job from the last event the timeline had).
 */
export function createInspectorState() {
  // A user the server named as no admin is told at once, rather than after the server refused a first time.
  const [mode, setMode] = createSignal<InspectionMode>(currentUser()?.admin === false ? "forbidden" : "checking");
  const [charts, setCharts] = createSignal<Charts>();
  // Stores reconciled by job id, so that a refresh keeps each listed job's elements (and the keyboard focus).
  const [views, setViews] = createStore<{ scheduler?: SchedulerView; actors?: ActorsView }>({});
  const actors = () => views.actors;
  const [loadError, setLoadError] = createSignal<string | null>(null);
  const [prompts, setPrompts] = createStore<Record<string, string>>({});
  // The final status of each listed job, as stored: it never changes, so each job is asked for once.
  const [finals, setFinals] = createStore<Record<string, string>>({});
  const [selectedJob, setSelectedJob] = createSignal<StoredJob | null>(null);
  const [selectedId, setSelectedId] = createSignal<string | null>(jobFromUrl());
  const [timeline, setTimeline] = createStore<TimelineState>({
    jobId: null,
    events: [],
    truncated: false,
    loading: false,
    error: null,
  });
  // Where the stream of all events starts: the ring's newest event when the page looked, so it sends only news.
  const [streamFrom, setStreamFrom] = createSignal<number | null>(null);
  const [jobStream, setJobStream] = createSignal<{ jobId: string } | null>(null);
  let jobResumeId: string | undefined;

  /**
   * A debug call failed: PRECONDITION_FAILED means inspection is off (the server said how to turn it on),
   * FORBIDDEN that the user is no admin (every live read stops: asking again would only be refused again).
   */
  const failed = (error: unknown) => {
    const code = errorCode(error);
    if (code === "FORBIDDEN") {
      batch(() => {
        setLoadError(null);
        setMode("forbidden");
      });
    } else if (code === "PRECONDITION_FAILED") setMode("off");
    else setLoadError(errorMessage(error));
  };

  /** A live stream failed: refused (no admin) is final; anything else may be a session that ended. */
  const streamFailed = (error: unknown) => (errorCode(error) === "FORBIDDEN" ? failed(error) : void recheckAuth());

  /**
   * A listed job's final status, shown at once where its actor left no state: as stored, or `deleted` for a job
   * the server no longer has (its conversation was deleted).
   */
  const learnFinal = (jobId: string, status: string) => {
    setFinals(jobId, status);
    setViews("actors", "finished", (actor) => actor.jobId === jobId && actor.state === null, "state", status);
  };

  const asked = new Set<string>();
  const loadPrompts = async (ids: string[]) => {
    const missing = [...new Set(ids)].filter((id) => !asked.has(id));
    for (const id of missing) asked.add(id);
    // Asked all at once: the client's batch link sends them 50 to a request, the requests side by side (asked ten
    // at a time, one request after the other, 200 finished jobs took seconds to be named).
    const replies = await Promise.all(
      missing.map((jobId) =>
        trpc.jobs.get.query({ jobId }).then(
          (job) => ({ jobId, job }),
          (error: unknown) => ({ jobId, error }),
        ),
      ),
    );
    batch(() =>
      replies.forEach((reply) => {
        if (!("job" in reply)) {
          // Asked again at the next refresh, unless the job is gone: a server that restarted or did not answer
          // would otherwise leave the job named by its id for as long as the page is open.
          if (errorCode(reply.error) !== "NOT_FOUND") asked.delete(reply.jobId);
          else learnFinal(reply.jobId, "deleted");
          return;
        }
        const { job } = reply;
        setPrompts(job.id, job.prompt);
        if (ended(job)) learnFinal(job.id, job.status);
      }),
    );
  };

  /**
   * Forgets the prompts and final statuses of jobs the page no longer names anywhere: a page left open on a busy
   * server would otherwise keep every job it ever listed (prompts of up to 4,000 characters) for as long as it is open.
   */
  const forgetAllBut = (view: SchedulerView, list: ActorsView) => {
    const named = new Set([...list.alive, ...list.finished, ...view.queue, ...view.dispatches].map((j) => j.jobId));
    for (const backend of view.backends) if (backend.jobId) named.add(backend.jobId);
    const selected = selectedId();
    if (selected) named.add(selected);
    const forget = produce((kept: Record<string, string>) => {
      for (const jobId of Object.keys(kept)) if (!named.has(jobId)) delete kept[jobId];
    });
    setPrompts(forget);
    setFinals(forget);
    for (const jobId of asked) if (!named.has(jobId)) asked.delete(jobId);
  };

  const loadViews = coalesced(async () => {
    if (mode() !== "on") return;
    try {
      const [view, list] = await Promise.all([
        trpc.debug.scheduler.query({ limit: LIST_LIMIT }),
        trpc.debug.actors.query({ limit: LIST_LIMIT }),
      ]);
      batch(() => {
        setViews("scheduler", reconcile(view, { key: "jobId" }));
        setViews("actors", reconcile(withStoredStates(list, finals), { key: "jobId" }));
        setLoadError(null);
        for (const entry of view.queue) if (!prompts[entry.jobId]) setPrompts(entry.jobId, entry.prompt);
        forgetAllBut(view, list);
      });
      // A finished actor that left no state was asked for while its job still waited (cancelled before it ran): its
      // stored status is asked for again until it is final, or it would show "…" until a reload.
      for (const actor of list.finished) if (actor.state === null && !finals[actor.jobId]) asked.delete(actor.jobId);
      // A decision listed may name a job that has left the actors' list: its prompt is asked for too.
      const decided = view.dispatches.slice(0, DECISIONS_SHOWN);
      void loadPrompts([...list.alive, ...list.finished, ...decided].map((a) => a.jobId));
      if (!ended(selectedJob())) void loadSelectedJob();
    } catch (error) {
      failed(error);
    }
  });
  const refresh = throttled(loadViews, REFRESH_MS);

  /**
   * The selected job as stored: why it failed, on which backend, which attempt, also once its events have left the
   * ring or the server has restarted since it ran. Read on selection and with the views until it is final.
   */
  /** A selected job the server said it does not have: not asked for again at every refresh (6 × 404 per 10 s). */
  let missingJob: string | null = null;
  const loadSelectedJob = coalesced(async () => {
    const jobId = selectedId();
    if (jobId === null || mode() !== "on") {
      setSelectedJob(null);
      return;
    }
    if (jobId === missingJob) return;
    try {
      const job = await trpc.jobs.get.query({ jobId });
      if (selectedId() === jobId) setSelectedJob(job);
    } catch (error) {
      // The timeline says why (no such job, or the server is unreachable).
      if (errorCode(error) === "NOT_FOUND") missingJob = jobId;
      if (selectedId() === jobId) setSelectedJob(null);
    }
  });

  let retry: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(retry));
  const checkStatus = coalesced(async () => {
    clearTimeout(retry);
    if (mode() === "forbidden") return;
    try {
      const status = await trpc.debug.status.query();
      batch(() => {
        setLoadError(null);
        setStreamFrom(status.ring?.latestSeq ?? 0);
        setMode(status.inspection ? "on" : "off");
      });
      if (status.inspection) void loadViews();
    } catch (error) {
      failed(error);
      // The server is unreachable (or restarting): the page keeps asking. A refusal is final.
      if (mode() !== "forbidden") retry = setTimeout(() => void checkStatus(), STATUS_RETRY_MS);
    }
  });

  const loadTimeline = coalesced(async () => {
    const jobId = selectedId();
    batch(() => {
      setJobStream(null);
      setTimeline({ jobId, events: [], truncated: false, loading: jobId !== null, error: null });
    });
    if (jobId === null || mode() !== "on") return;
    try {
      const result = await trpc.debug.timeline.query({ jobId });
      if (selectedId() !== jobId) return;
      jobResumeId = result.lastEventId;
      batch(() => {
        setTimeline({ jobId, events: result.events, truncated: result.truncated, loading: false, error: null });
        setJobStream({ jobId });
      });
    } catch (error) {
      if (selectedId() !== jobId) return;
      setTimeline({ loading: false, error: errorMessage(error) });
      if (errorCode(error) === "PRECONDITION_FAILED" || errorCode(error) === "FORBIDDEN") failed(error);
    }
  });

  // The stream of every event only says that something changed: the views are read again, throttled.
  const [paused, setPaused] = createSignal(false);
  const allInput = createMemo(() => (mode() === "on" && !paused() && streamFrom() !== null ? {} : null));
  const all = createSubscription<Record<string, never>, InspectionRecord>({
    input: allInput,
    subscribe: (input, handlers) => trpc.debug.inspect.subscribe(input, handlers),
    resumeFrom: () => String(streamFrom()),
    onData: () => refresh(),
    // The ring moved past our cursor, or the server restarted (perhaps without inspection): look again. Deferred,
    // so that the primitive has set its reopening timer before closing the stream clears it.
    onHistoryGone: () =>
      queueMicrotask(() => {
        setPaused(true);
        void checkStatus().then(() => setPaused(false));
      }),
    onError: streamFailed,
    onEnded: () => void recheckAuth(),
  });
  createEffect(on(all.state, (state) => state === "live" && refresh()));
  const poll = setInterval(() => mode() === "on" && refresh(), POLL_MS);
  onCleanup(() => clearInterval(poll));

  createSubscription<{ jobId: string }, InspectionRecord>({
    input: jobStream,
    subscribe: (input, handlers) => trpc.debug.inspect.subscribe(input, handlers),
    resumeFrom: () => jobResumeId,
    onData: (record) => {
      if (record.jobId !== timeline.jobId) return;
      // The timeline and the stream may both hold the events around the moment the stream opened.
      const last = timeline.events.at(-1)?.seq ?? 0;
      if (record.seq > last) setTimeline("events", timeline.events.length, record);
    },
    onHistoryGone: () => queueMicrotask(() => void loadTimeline()),
    onError: streamFailed,
    onEnded: () => void recheckAuth(),
  });

  createEffect(
    on([selectedId, mode], () => {
      setSelectedJob(null);
      void loadTimeline();
      void loadSelectedJob();
    }),
  );
  void checkStatus();
  trpc.debug.chart.query().then(setCharts, failed);

  /**
   * The selected job's current state, the event that led into it and the state it left: its own actor's latest
   * snapshots, else (no events kept) the state the actor view lists. One event may lead into a state from several
   * (`job.cancel` from `queued` and from `processing`): the state left says which transition was taken.
   */
  const selectedState = createMemo((): { state: string | null; event: string | null; from: string | null } | null => {
    const jobId = selectedId();
    if (!jobId) return null;
    if (timeline.jobId === jobId) {
      const snapshots = timeline.events.filter(
        (r) => r.type === "@xstate.snapshot" && r.actorId === jobId && r.state !== null,
      );
      const [snapshot, before] = [snapshots.at(-1), snapshots.at(-2)];
      if (snapshot) {
        return { state: stateKey(snapshot.state), event: snapshot.eventType, from: stateKey(before?.state) };
      }
    }
    const listed = actors()?.alive.find((a) => a.jobId === jobId) ?? actors()?.finished.find((a) => a.jobId === jobId);
    if (listed && stateKey(listed.state)) return { state: stateKey(listed.state), event: null, from: null };
    const stored = selectedJob();
    return stored?.id === jobId ? { state: stored.status, event: null, from: null } : null;
  });

  /** How many live jobs are in each state: all of them, as the server counts them, not only the ones listed. */
  const counts = createMemo((): Record<string, number> => ({ ...actors()?.states }));

  return {
    mode,
    charts,
    scheduler: () => views.scheduler,
    actors,
    loadError,
    prompts,
    timeline,
    selectedId,
    selectedJob,
    selectedState,
    counts,
    connection: all.state,
    select: (jobId: string | null) => {
      if (jobId === selectedId()) return;
      setSelectedId(jobId);
      const url = new URL(location.href);
      if (jobId) url.searchParams.set("job", jobId);
      else url.searchParams.delete("job");
      history.replaceState(null, "", url);
    },
  };
}

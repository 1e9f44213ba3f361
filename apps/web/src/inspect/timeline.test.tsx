import { fireEvent, render, screen } from "@solidjs/testing-library";
import { createStore } from "solid-js/store";
import { describe, expect, it } from "vitest";
import type { StoredJob, TimelineState } from "./inspect-state";
import { shownValue, Timeline } from "./timeline";
import type { InspectionRecord } from "./types";

const jobId = "3e225f9a-9fc2-4ecc-ac66-82a02950b46c";

const record = (seq: number, fields: Partial<InspectionRecord>): InspectionRecord => ({
  seq,
  at: new Date(Date.UTC(2025, 0, 1, 10, 0, 0, seq * 100)).toISOString(),
  actorId: jobId,
  jobId,
  type: "@xstate.event",
  eventType: null,
  sourceId: null,
  state: null,
  status: null,
  payloadSummary: null,
  contextDiff: null,
  ...fields,
});

const events: InspectionRecord[] = [
  record(1, { actorId: "scheduler", eventType: "scheduler.enqueue", payloadSummary: '{"type":"scheduler.enqueue"}' }),
  record(2, {
    type: "@xstate.snapshot",
    eventType: "job.start",
    state: "processing",
    status: "active",
    contextDiff: { status: ["queued", "processing"], backend: [null, 0] },
  }),
  record(3, {
    eventType: "job.progress",
    sourceId: "scheduler",
    payloadSummary: '{"type":"job.progress","progress":50}',
  }),
  record(4, {
    type: "@xstate.snapshot",
    eventType: "job.progress",
    state: "processing",
    status: "active",
    contextDiff: { progress: [0, 50] },
  }),
  record(5, {
    eventType: "xstate.error.actor.0.imageJob.processing",
    sourceId: `${jobId}/0.imageJob.processing`,
    payloadSummary: '{"error":{"name":"ForgeError","reason":"OutOfMemory"}}',
  }),
];

const state = (overrides: Partial<TimelineState> = {}): TimelineState => ({
  jobId,
  events,
  truncated: false,
  loading: false,
  error: null,
  ...overrides,
});

const rows = () => screen.getAllByRole("listitem");

describe("<Timeline>", () => {
  it("lists each event with its type, payload summary and context changes, progress events folded away", () => {
    render(() => <Timeline timeline={state()} prompt="a red fox" />);
    expect(rows().map((r) => r.getAttribute("data-event-type"))).toEqual([
      "scheduler.enqueue",
      "job.start",
      "xstate.error.actor.0.imageJob.processing",
    ]);
    const [enqueue, start] = rows();
    expect(enqueue).toHaveTextContent("scheduler");
    expect(enqueue).toHaveTextContent('{"type":"scheduler.enqueue"}');
    expect(start).toHaveTextContent("processing");
    expect(start).toHaveTextContent('status:"queued" → "processing"');
    expect(start).toHaveTextContent("backend:null → 0");
    expect(screen.getByText(/2 hidden/)).toBeInTheDocument();
  });

  it("marks the error event as a failure, with the invoked actor as its source", () => {
    render(() => <Timeline timeline={state()} prompt={undefined} />);
    const failure = rows().at(-1);
    expect(failure).toHaveClass("event--failure");
    expect(failure).toHaveTextContent("OutOfMemory");
    expect(failure).toHaveTextContent("from ↳ 0.imageJob.processing");
    expect(rows().filter((r) => r.classList.contains("event--failure"))).toHaveLength(1);
  });

  it("shows the progress events when asked to", () => {
    render(() => <Timeline timeline={state()} prompt={undefined} />);
    fireEvent.click(screen.getByRole("checkbox", { name: /Progress events/ }));
    expect(rows()).toHaveLength(5);
    expect(rows()[3]).toHaveTextContent("progress:0 → 50");
  });

  it("appends events as they arrive", () => {
    const [timeline, setTimeline] = createStore(state({ events: events.slice(0, 2) }));
    render(() => <Timeline timeline={timeline} prompt={undefined} />);
    expect(rows()).toHaveLength(2);
    setTimeline("events", timeline.events.length, events[4]!);
    expect(rows()).toHaveLength(3);
    expect(rows().at(-1)).toHaveAttribute("data-event-type", "xstate.error.actor.0.imageJob.processing");
  });

  it("asks for a selection when no job is selected, and says when the ring kept nothing", () => {
    const [timeline, setTimeline] = createStore(state({ jobId: null, events: [] }));
    render(() => <Timeline timeline={timeline} prompt={undefined} />);
    expect(screen.getByText(/Select a job actor/)).toBeInTheDocument();
    setTimeline({ jobId });
    expect(screen.getByText(/keeps no events of this job/)).toBeInTheDocument();
  });

  it("says what the server stored of the job, why it failed and where, also when the ring kept no event", () => {
    const job = {
      id: jobId,
      status: "error",
      attempt: 2,
      backend: "http://127.0.0.1:7861",
      queuePosition: 0,
      error: "Forge ran out of GPU memory: CUDA out of memory",
    } as StoredJob;
    render(() => <Timeline timeline={state({ events: [] })} prompt={undefined} job={job} />);
    const stored = screen.getByTestId("stored-job");
    expect(stored).toHaveTextContent("errorattempt 2on 127.0.0.1:7861Forge ran out of GPU memory: CUDA out of memory");
    expect(screen.getByText(/keeps no events of this job/)).toHaveTextContent(/before the server last started/);
  });

  it("shows no stored job that belongs to another selection", () => {
    const job = { id: "another", status: "complete", attempt: 1, backend: null, queuePosition: 0, error: null };
    render(() => <Timeline timeline={state()} prompt={undefined} job={job as StoredJob} />);
    expect(screen.queryByTestId("stored-job")).not.toBeInTheDocument();
  });
});

describe("shownValue", () => {
  it("shows a time of the context as the time it is, and anything else as JSON", () => {
    expect(shownValue("finishedAt", 1796433538159)).toBe("2026-12-05T01:18:58.159Z");
    expect(shownValue("finishedAt", null)).toBe("null");
    expect(shownValue("progress", 1796433538159)).toBe("1796433538159");
    expect(shownValue("modules", [])).toBe("[]");
  });
});

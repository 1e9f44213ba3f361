import { chartOf, imageJobMachine, schedulerMachine } from "@anvil/job-machine";
import { render, screen } from "@solidjs/testing-library";
import { afterEach, describe, expect, it, vi } from "vitest";
import { checkAuth } from "../lib/auth";
import { eventually } from "../test-patience";
import { InspectionOff, InspectPage } from "./inspect-page";

describe("<InspectionOff>", () => {
  it("says that inspection is off and how to turn it on", () => {
    render(() => <InspectionOff />);
    const notice = screen.getByRole("alert");
    expect(notice).toHaveAccessibleName("Inspection is off on this server");
    expect(notice).toHaveTextContent("Start the server with ANVIL_INSPECT=1");
    expect(notice).toHaveTextContent("inspection is on unless NODE_ENV=production");
  });
});

const FORBIDDEN = {
  error: { message: "Only an admin may do this", code: -32603, data: { code: "FORBIDDEN", httpStatus: 403 } },
};

/**
 * A server for the page's tRPC calls (batched, as the client sends them): `answer` gives each procedure's reply, and
 * every procedure asked for is counted. A procedure answered with null is never answered (a stream left open).
 */
const serverAnswering = (answer: (procedure: string) => object | null) => {
  const asked: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    if (url.pathname === "/auth/status") return Response.json({ required: true, authorized: true, user: null });
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    asked.push(...procedures);
    const replies = procedures.map(answer);
    if (replies.includes(null)) return new Promise<Response>(() => undefined);
    const status = replies.some((reply) => reply !== null && "error" in reply) ? 403 : 200;
    return Response.json(url.searchParams.has("batch") ? replies : replies[0], { status });
  });
  return asked;
};

describe("<InspectPage> for a user who is not an admin", () => {
  afterEach(async () => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    await checkAuth(async () => Response.json({ required: false, user: null }));
  });

  it("says the inspector is for admins, and stops asking, once the server refuses its views", async () => {
    vi.useFakeTimers();
    const asked = serverAnswering((procedure) =>
      procedure === "debug.status" ? { result: { data: { inspection: true, ring: { latestSeq: 0 } } } } : FORBIDDEN,
    );
    render(() => <InspectPage />);
    await vi.advanceTimersByTimeAsync(100);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(screen.queryByText("Reading the scheduler…")).not.toBeInTheDocument();
    expect(screen.queryByText(/Only an admin may do this/)).not.toBeInTheDocument();
    const before = asked.length;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked.length).toBe(before);
  });

  it("stops asking whether inspection is on once the server refuses that too", async () => {
    vi.useFakeTimers();
    const asked = serverAnswering(() => FORBIDDEN);
    render(() => <InspectPage />);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(asked.filter((procedure) => procedure === "debug.status")).toHaveLength(1);
  });

  it("says so at once for a user the server signed in as no admin", async () => {
    const asked = serverAnswering(() => FORBIDDEN);
    await checkAuth(async () =>
      Response.json({ required: true, authorized: true, user: { name: "bob", admin: false } }),
    );
    render(() => <InspectPage />);
    expect(screen.getByRole("alert")).toHaveAccessibleName("The inspector is for admins");
    expect(asked.filter((procedure) => procedure.startsWith("debug.") && procedure !== "debug.chart")).toEqual([]);
  });
});

describe("<InspectPage> for an admin", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("shows the servers of the cluster, with inspection off too", async () => {
    const now = new Date().toISOString();
    const server = { url: "http://10.0.0.1:3000", version: "0.1.0", startedAt: now, lastSeenAt: now };
    serverAnswering((procedure) =>
      procedure === "debug.status"
        ? { result: { data: { inspection: false, ring: null } } }
        : procedure === "cluster.servers"
          ? { result: { data: { servers: [{ ...server, leader: true, self: true }] } } }
          : answerForCancelledJob(procedure),
    );
    render(() => <InspectPage />);
    await screen.findByRole("heading", { name: "Inspection is off on this server" });
    const panel = screen.getByRole("region", { name: "Servers" });
    await eventually(() => expect(panel).toHaveTextContent("http://10.0.0.1:3000leaderthis server"));
  });
});

const cancelledBeforeStart = "5b1c7f3e-2a4d-4e8f-9a1b-2c3d4e5f6a7b";

/** What the server answers for a job that was cancelled while it waited: its actor never started. */
const answerForCancelledJob = (procedure: string): object | null => {
  const data: Record<string, unknown> = {
    "debug.status": { inspection: true, ring: { capacity: 10, size: 4, oldestSeq: 1, latestSeq: 4, failures: 0 } },
    "debug.actors": {
      scheduler: { actorId: "scheduler", status: "active", dispatching: true, children: 0 },
      aliveCount: 0,
      states: {},
      alive: [],
      finished: [
        {
          actorId: cancelledBeforeStart,
          jobId: cancelledBeforeStart,
          state: null,
          status: null,
          lastSeq: 4,
          lastEventAt: new Date().toISOString(),
        },
      ],
    },
    "debug.scheduler": {
      dispatching: true,
      paused: false,
      blockedBy: null,
      queued: 0,
      queue: [],
      permits: { total: 1, held: 0, free: 1 },
      backends: [],
      dispatches: [],
    },
    "debug.chart": {
      imageJob: {
        id: "imageJob",
        initial: "imageJob.queued",
        states: ["queued", "processing", "complete", "error", "cancelled"].map((key) => ({
          id: `imageJob.${key}`,
          key,
          final: !["queued", "processing"].includes(key),
        })),
        transitions: [],
      },
      scheduler: {
        id: "scheduler",
        initial: "scheduler",
        states: [{ id: "scheduler", key: "scheduler", final: false }],
        transitions: [],
      },
    },
    "debug.timeline": { jobId: cancelledBeforeStart, alive: false, truncated: false, dispatch: null, events: [] },
    "jobs.get": {
      id: cancelledBeforeStart,
      prompt: "a fox that never started",
      status: "cancelled",
      attempt: 1,
      backend: null,
      queuePosition: 0,
      error: null,
    },
  };
  if (procedure === "debug.inspect") return null;
  return procedure in data ? { result: { data: data[procedure] } } : FORBIDDEN;
};

describe("<InspectPage> with a job cancelled before it started", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("shows the status the server stored where the job's actor left none", async () => {
    serverAnswering(answerForCancelledJob);
    history.replaceState(null, "", `/inspect?job=${cancelledBeforeStart}`);
    render(() => <InspectPage />);
    const finished = await screen.findByRole("button", { name: /a fox that never started/ });
    await eventually(() => expect(finished).toHaveTextContent("cancelled"));
    expect(finished).not.toHaveTextContent("unknown");
    expect(await screen.findByTestId("stored-job")).toHaveTextContent("cancelledattempt 1");
    expect(screen.getByText(/selected job is/)).toHaveTextContent("selected job is cancelled");
  });
});

describe("<InspectPage> with a job whose conversation was deleted while it waited", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("says the job was deleted, where it would not know its status", async () => {
    const NOT_FOUND = {
      error: { message: "No job", code: -32004, data: { code: "NOT_FOUND", httpStatus: 404 } },
    };
    serverAnswering((procedure) => (procedure === "jobs.get" ? NOT_FOUND : answerForCancelledJob(procedure)));
    render(() => <InspectPage />);
    const finished = await screen.findByRole("button", { name: /Job 5b1c7f3e/ });
    await eventually(() => expect(finished).toHaveTextContent("deleted"));
    expect(finished).not.toHaveTextContent("unknown");
  });
});

describe("<InspectPage> while the stored status of a finished job is being read", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("shows that it is being read, not a status called unknown", async () => {
    serverAnswering((procedure) => (procedure === "jobs.get" ? null : answerForCancelledJob(procedure)));
    render(() => <InspectPage />);
    const finished = await screen.findByRole("button", { name: /Job 5b1c7f3e/ });
    expect(finished).toHaveTextContent("…");
    expect(finished).not.toHaveTextContent("unknown");
  });
});

const cancelledWhileRunning = "7d3c1e55-0f1a-4c2b-9a8e-5b6c7d8e9f00";

/** A job actor's snapshot in the selected job's timeline. */
const snapshotRecord = (seq: number, state: string, eventType: string) => ({
  seq,
  at: new Date(Date.now() - 1_000 + seq).toISOString(),
  actorId: cancelledWhileRunning,
  jobId: cancelledWhileRunning,
  type: "@xstate.snapshot",
  eventType,
  sourceId: null,
  state,
  status: state === "cancelled" ? "done" : "active",
  payloadSummary: null,
  contextDiff: null,
});

/** The server of a job that was cancelled while it ran, with the image job's real chart. */
const answerForJobCancelledWhileRunning = (procedure: string): object | null => {
  if (procedure === "debug.inspect") return null;
  const answered = answerForCancelledJob(procedure);
  const data: Record<string, unknown> = {
    "debug.chart": { imageJob: chartOf(imageJobMachine), scheduler: chartOf(schedulerMachine) },
    "debug.timeline": {
      jobId: cancelledWhileRunning,
      alive: false,
      truncated: false,
      dispatch: null,
      events: [
        snapshotRecord(1, "queued", "xstate.init"),
        snapshotRecord(2, "processing", "job.start"),
        snapshotRecord(3, "processing", "job.progress"),
        snapshotRecord(4, "cancelled", "job.cancel"),
      ],
    },
    "jobs.get": {
      id: cancelledWhileRunning,
      prompt: "a fox cancelled while it ran",
      status: "cancelled",
      attempt: 1,
      backend: "http://gpu-a:7860",
      queuePosition: 0,
      error: null,
    },
  };
  return procedure in data ? { result: { data: data[procedure] } } : answered;
};

describe("<InspectPage> with a job cancelled while it ran", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("highlights the job.cancel transition from processing, not the one from queued", async () => {
    serverAnswering(answerForJobCancelledWhileRunning);
    history.replaceState(null, "", `/inspect?job=${cancelledWhileRunning}`);
    const { container } = render(() => <InspectPage />);
    await eventually(() => expect(container.querySelector(".chart-edge--taken")).not.toBeNull());
    const taken = [...container.querySelectorAll(".chart-edge--taken")].map(
      (edge) =>
        `${edge.getAttribute("data-event")}: ${edge.getAttribute("data-source")} → ${edge.getAttribute("data-target")}`,
    );
    expect(taken).toEqual(["job.cancel: processing → cancelled"]);
  });
});

describe("<InspectPage> with more live jobs than it lists", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("counts every live job on the chart, not only the listed ones", async () => {
    const running = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    serverAnswering((procedure) =>
      procedure === "debug.actors"
        ? {
            result: {
              data: {
                scheduler: { actorId: "scheduler", status: "active", dispatching: true, children: 1 },
                aliveCount: 1_000,
                states: { processing: 1, queued: 999 },
                alive: [
                  {
                    actorId: running,
                    jobId: running,
                    state: "processing",
                    status: "active",
                    position: 0,
                    progress: 10,
                    backend: 0,
                    attempt: 1,
                    startedAt: new Date().toISOString(),
                  },
                ],
                finished: [],
              },
            },
          }
        : answerForJobCancelledWhileRunning(procedure),
    );
    const { container } = render(() => <InspectPage />);
    await eventually(() =>
      expect(container.querySelector('[data-state="queued"]')).toHaveAttribute(
        "aria-label",
        expect.stringContaining("999 live jobs"),
      ),
    );
    expect(container.querySelector('[data-state="processing"]')).toHaveAttribute(
      "aria-label",
      expect.stringContaining("1 live job"),
    );
  });
});

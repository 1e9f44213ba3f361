import { createRoot } from "solid-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createInspectorState } from "./inspect-state";

const [first, second] = ["1f0e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"];

/** The state a finished actor left (null: none, as a job cancelled before it ran), and the status jobs.get gives. */
const ending = { state: "complete" as string | null, status: "complete" };

/** A finished job as `debug.actors` lists it. */
const finished = (jobId: string) => ({
  actorId: jobId,
  jobId,
  state: ending.state,
  status: "done",
  lastSeq: 4,
  lastEventAt: new Date().toISOString(),
});

/** Jobs jobs.get does not find (NOT_FOUND). */
const missing = new Set<string>();

/** The inputs of the `debug.inspect` streams the page opened. */
const streams: Record<string, unknown>[] = [];

/** The jobs asked for with `jobs.get`, in order. */
const asked: string[] = [];

/**
 * A server whose ring holds `listed()` as its finished jobs, each with a long prompt; `down()`: jobs.get fails;
 * `decided`: the jobs of the scheduler's latest dispatch decisions, newest first.
 */
const serverListing = (listed: () => string[], down = () => false, decided: string[] = []) =>
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    if (url.pathname === "/auth/status") return Response.json({ required: false, user: null });
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    const inputs = JSON.parse(url.searchParams.get("input") ?? "{}") as Record<string, { jobId?: string }>;
    procedures.forEach((procedure, i) => procedure === "jobs.get" && asked.push(inputs[i]!.jobId!));
    if (procedures.includes("jobs.get") && down()) return new Response("Bad Gateway", { status: 502 });
    if (procedures.includes("debug.inspect")) {
      streams.push(JSON.parse(url.searchParams.get("input") ?? "{}") as Record<string, unknown>);
      return new Promise<Response>(() => undefined);
    }
    const replies = procedures.map((procedure, i) => {
      const data: Record<string, unknown> = {
        "debug.status": { inspection: true, ring: { capacity: 10, size: 0, oldestSeq: 1, latestSeq: 0, failures: 0 } },
        "debug.chart": null,
        "debug.scheduler": {
          dispatching: true,
          paused: false,
          blockedBy: null,
          queued: 0,
          queue: [],
          permits: { total: 1, held: 0, free: 1 },
          backends: [],
          dispatches: decided.map((jobId) => ({
            jobId,
            backend: 0,
            kind: "next",
            reason: "first in line",
            at: new Date().toISOString(),
          })),
        },
        "debug.actors": {
          scheduler: { actorId: "scheduler", status: "active", dispatching: true, children: 0 },
          aliveCount: 0,
          states: {},
          alive: [],
          finished: listed().map(finished),
        },
        "debug.timeline": {
          jobId: inputs[i]?.jobId,
          alive: false,
          truncated: false,
          dispatch: null,
          events: [],
          lastEventId: "a1b2c3:7",
        },
        "jobs.get": { id: inputs[i]?.jobId, prompt: `${"a long prompt ".repeat(280)}`, status: ending.status },
      };
      if (procedure === "jobs.get" && missing.has(inputs[i]!.jobId!)) {
        return { error: { message: "no such job", code: -32004, data: { code: "NOT_FOUND", httpStatus: 404 } } };
      }
      return { result: { data: data[procedure] } };
    });
    return Response.json(url.searchParams.has("batch") ? replies : replies[0]);
  });

describe("createInspectorState", () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
    asked.length = 0;
    Object.assign(ending, { state: "complete", status: "complete" });
    missing.clear();
    history.replaceState(null, "", "/inspect");
  });

  it("asks once for a selected job the server does not have, not again at every refresh", async () => {
    vi.useFakeTimers();
    missing.add(second);
    serverListing(() => [first]);
    history.replaceState(null, "", `/inspect?job=${second}`);
    await createRoot(async (dispose) => {
      createInspectorState();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(asked.filter((jobId) => jobId === second)).toHaveLength(1);
      dispose();
    });
  });

  it("shows the stored status of a job cancelled before it ran, though it was first read while it waited", async () => {
    vi.useFakeTimers();
    Object.assign(ending, { state: null, status: "queued" });
    serverListing(() => [first]);
    await createRoot(async (dispose) => {
      const inspector = createInspectorState();
      await vi.advanceTimersByTimeAsync(100);
      expect(inspector.actors()?.finished.map((actor) => actor.state)).toEqual([null]);
      ending.status = "cancelled";
      await vi.advanceTimersByTimeAsync(2_500);
      await vi.advanceTimersByTimeAsync(2_500);
      expect(inspector.actors()?.finished.map((actor) => actor.state)).toEqual(["cancelled"]);
      // Final now: not asked for again.
      const times = asked.length;
      await vi.advanceTimersByTimeAsync(5_000);
      expect(asked).toHaveLength(times);
      dispose();
    });
  });

  it("names a dispatch decision's job by its prompt after the job has left the actors' list, asking once a job", async () => {
    vi.useFakeTimers();
    serverListing(() => [first], undefined, [second, first]);
    await createRoot(async (dispose) => {
      const inspector = createInspectorState();
      await vi.advanceTimersByTimeAsync(100);
      expect(Object.keys(inspector.prompts).sort()).toEqual([first, second].sort());
      expect(asked.sort()).toEqual([first, second].sort());
      dispose();
    });
  });

  it("forgets the prompts of jobs it no longer lists, so that an open page does not grow without bound", async () => {
    vi.useFakeTimers();
    let listed = [first];
    serverListing(() => listed);
    await createRoot(async (dispose) => {
      const inspector = createInspectorState();
      await vi.advanceTimersByTimeAsync(100);
      expect(Object.keys(inspector.prompts)).toEqual([first]);
      // The first job has left the ring; another one came.
      listed = [second];
      await vi.advanceTimersByTimeAsync(2_500);
      expect(Object.keys(inspector.prompts)).toEqual([second]);
      dispose();
    });
  });

  it("follows the selected job from where its timeline was read, in this server process's ids", async () => {
    vi.useFakeTimers();
    serverListing(() => [first]);
    history.replaceState(null, "", `/inspect?job=${first}`);
    await createRoot(async (dispose) => {
      createInspectorState();
      await vi.advanceTimersByTimeAsync(100);
      expect(streams).toContainEqual({ jobId: first, lastEventId: "a1b2c3:7" });
      dispose();
    });
    history.replaceState(null, "", "/");
  });

  it("asks again for a prompt the server did not give the first time", async () => {
    vi.useFakeTimers();
    let down = true;
    serverListing(
      () => [first],
      () => down,
    );
    await createRoot(async (dispose) => {
      const inspector = createInspectorState();
      await vi.advanceTimersByTimeAsync(100);
      expect(inspector.prompts[first]).toBeUndefined();
      down = false;
      await vi.advanceTimersByTimeAsync(2_500);
      expect(inspector.prompts[first]).toMatch(/^a long prompt/);
      dispose();
    });
  });
});

import { createRoot } from "solid-js";
import { onTestFinished, vi } from "vitest";
import type { Job } from "./types";

/** A job as the API would send it, for tests; `overrides` set whatever the test is about. */
export const makeJob = (overrides: Partial<Job> = {}): Job => ({
  id: "7d3c9f0e-5b7a-4c1e-9a51-0d6f5b1e2a10",
  conversationId: "0b8f4a5e-2c1d-4e6f-8a9b-1c2d3e4f5a6b",
  messageId: "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9",
  status: "queued",
  queuePosition: 3,
  progress: 0,
  prompt: "a lighthouse at dusk",
  params: {
    negativePrompt: "",
    width: 832,
    height: 1216,
    steps: 20,
    cfgScale: 1,
    distilledCfgScale: 3.5,
    seed: -1,
    sampler: "Euler",
    scheduler: null,
    checkpoint: null,
    modules: [],
  },
  imageUrl: null,
  usedSeed: null,
  error: null,
  createdAt: "2025-01-01T10:00:00.000Z",
  startedAt: null,
  finishedAt: null,
  owner: "local",
  priority: 0,
  attempt: 1,
  backend: null,
  estimatedStartAt: null,
  estimatedFinishAt: null,
  callbackUrl: null,
  cancelledBy: null,
  movedBy: null,
  ...overrides,
});

/**
 * A Server-Sent Events stream as tRPC sends one, for a stubbed `fetch` to answer a subscription with: `connected`,
 * then each event the test sends, tracked with ids 1, 2, ….
 */
export function sseStream<T>() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  controller.enqueue(encoder.encode("event: connected\ndata: {}\n\n"));
  let id = 0;
  return {
    response: new Response(body, { headers: { "content-type": "text/event-stream" } }),
    send: (event: T) => controller.enqueue(encoder.encode(`data: ${JSON.stringify(event)}\nid: ${++id}\n\n`)),
    /** The connection breaks (the server went away, the network dropped). */
    fail: () => controller.error(new TypeError("network error")),
  };
}

/** A tRPC reply with `data`. */
export const ok = (data: unknown) => ({ result: { data } });

/**
 * A server for the page's tRPC calls (batched or not): `answer` gives each procedure's reply (a promise: one that comes
 * when it settles; undefined: an empty one), and every procedure asked for is counted. The job stream is `jobStream`'s
 * response, or stays open and silent.
 */
export const serverAnswering = (
  answer: (procedure: string) => object | Promise<object> | undefined,
  jobStream?: () => Response,
  sent?: (procedures: string[], body: string) => void,
) => {
  const asked: string[] = [];
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://anvil.test");
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    if (procedures.includes("jobs.events")) return jobStream?.() ?? new Promise<Response>(() => undefined);
    asked.push(...procedures);
    if (typeof init?.body === "string") sent?.(procedures, init.body);
    const replies = procedures.map(
      (procedure) =>
        answer(procedure) ??
        {
          "queue.status": ok({ paused: false, backends: [] }),
          "jobs.list": ok({ items: [], nextCursor: null }),
          "messages.list": ok([]),
        }[procedure] ??
        ok([]),
    );
    const settled = await Promise.all(replies);
    const status = settled.some((reply) => "error" in reply) ? 404 : 200;
    return Response.json(url.searchParams.has("batch") ? settled : settled[0], { status });
  });
  return asked;
};

/**
 * What `make` makes, in a Solid root of its own that is disposed of once the test is done, when the test's fake
 * timers and stubbed globals go too.
 */
export function mountedForTest<T>(make: () => T): T {
  return createRoot((dispose) => {
    onTestFinished(() => {
      dispose();
      vi.useRealTimers();
      vi.unstubAllGlobals();
    });
    return make();
  });
}

import { fireEvent, render, screen, waitFor, within } from "@solidjs/testing-library";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { checkAuth } from "../lib/auth";
import { makeJob, sseStream } from "../lib/test-support";
import type { Job, Message } from "../lib/types";
import { ChatPage } from "./chat-page";
import { BACKEND_DOWN_DETAIL, NO_GPU_DETAIL } from "./job-card";

const ok = (data: unknown) => ({ result: { data } });
const CONVERSATION = "00000000-0000-4000-8000-0000000000c1";

/** A job of ann's in the open conversation, with its assistant message. */
const job = (n: number, overrides: Partial<Job> = {}): Job =>
  makeJob({
    id: `00000000-0000-4000-8000-00000000000${n}`,
    messageId: `00000000-0000-4000-8000-0000000000a${n}`,
    conversationId: CONVERSATION,
    owner: "ann",
    prompt: `prompt ${n}`,
    queuePosition: n - 1,
    ...overrides,
  });
const messageOf = (j: Job): Message => ({
  id: j.messageId,
  conversationId: CONVERSATION,
  role: "assistant",
  content: "",
  metadata: { jobId: j.id },
  createdAt: j.createdAt,
});

const eventStream = () => sseStream<Job>();

/**
 * The server the page talks to: one conversation holding `jobs`, a job stream the test writes to, and
 * `jobs.cancelWaiting` answering `cancelled` (each call's input is kept).
 */
function server(jobs: Job[], cancelled: string[], backends: unknown[] = []) {
  const cancelCalls: unknown[] = [];
  let stream: ReturnType<typeof eventStream> | null = null;
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://anvil.test");
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    const batched = url.searchParams.has("batch");
    if (procedures.includes("jobs.events")) {
      stream = eventStream();
      return stream.response;
    }
    if (procedures.includes("conversations.events")) return new Promise<Response>(() => undefined);
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
    const replies = procedures.map((procedure, i) => {
      if (procedure === "jobs.cancelWaiting") {
        cancelCalls.push(batched ? body[String(i)] : body);
        return ok({ jobIds: cancelled });
      }
      return (
        {
          "conversations.list": ok([{ id: CONVERSATION, title: "Foxes", createdAt: "2026-12-02T10:00:00.000Z" }]),
          "messages.list": ok(jobs.map(messageOf)),
          "jobs.list": ok({ items: jobs, nextCursor: null }),
          "queue.status": ok({ queued: 3, processing: 1, paused: false, backends }),
        }[procedure] ?? ok([])
      );
    });
    return Response.json(batched ? replies : replies[0]);
  });
  return {
    cancelCalls,
    send: async (event: Job) => {
      await waitFor(() => expect(stream).not.toBeNull());
      stream!.send(event);
    },
  };
}

const card = (prompt: string) => screen.getByRole("article", { name: `Image: ${prompt}` });

describe("<ChatPage> Cancel N waiting", () => {
  beforeEach(async () => {
    Element.prototype.scrollTo = () => undefined;
    await checkAuth(async () =>
      Response.json({ required: true, authorized: true, user: { name: "ann", admin: false } }),
    );
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("cancels the conversation's waiting jobs in one call; the stream turns the cards, the running one runs on", async () => {
    history.replaceState(null, "", `/?c=${CONVERSATION}`);
    const running = job(1, {
      status: "processing",
      queuePosition: 0,
      progress: 40,
      startedAt: new Date().toISOString(),
    });
    const waiting = [job(2), job(3), job(4)];
    const api = server(
      [running, ...waiting],
      waiting.map((j) => j.id),
    );
    render(() => <ChatPage />);

    fireEvent.click(await screen.findByRole("button", { name: "Cancel 3 waiting" }));
    const question = screen.getByRole("group", {
      name: "Cancel your 3 waiting jobs in this conversation? A job already generating goes on.",
    });
    expect(api.cancelCalls).toEqual([]);
    fireEvent.click(within(question).getByRole("button", { name: "Cancel them" }));
    expect(await screen.findByText("Cancelled 3 waiting jobs.")).toHaveAttribute("role", "status");
    expect(api.cancelCalls).toEqual([{ conversationId: CONVERSATION }]);
    // The answer alone changes no card: each one's end comes on the live stream, once.
    expect(card("prompt 2")).toHaveAttribute("data-status", "queued");

    for (const j of waiting) await api.send({ ...j, status: "cancelled", queuePosition: 0 });
    await waitFor(() => expect(card("prompt 4")).toHaveAttribute("data-status", "cancelled"));
    for (const j of waiting) expect(card(j.prompt)).toHaveAttribute("data-status", "cancelled");
    expect(card("prompt 1")).toHaveAttribute("data-status", "processing");
    expect(screen.queryByRole("button", { name: /Cancel \d+ waiting/ })).not.toBeInTheDocument();
    expect(screen.getByText("Cancelled 3 waiting jobs.")).toBeInTheDocument();
  });

  it("says a running job's GPU stopped answering once the queue panel has it down", async () => {
    history.replaceState(null, "", `/?c=${CONVERSATION}`);
    const gpu = "http://gpu-1:7860";
    const running = job(1, {
      status: "processing",
      queuePosition: 0,
      startedAt: new Date().toISOString(),
      backend: gpu,
    });
    server([running], [], [{ url: gpu, healthy: false, busy: true, stopping: false, jobId: running.id }]);
    render(() => <ChatPage />);
    await waitFor(() => expect(card("prompt 1")).toHaveTextContent(BACKEND_DOWN_DETAIL));
  });

  it("says a waiting job starts once a GPU is back when every GPU is down, and only then", async () => {
    history.replaceState(null, "", `/?c=${CONVERSATION}`);
    const down = (url: string) => ({ url, healthy: false, busy: false, stopping: false, jobId: null });
    server([job(1)], [], [down("http://gpu-1:7860"), down("http://gpu-2:7860")]);
    const { unmount } = render(() => <ChatPage />);
    await waitFor(() => expect(card("prompt 1")).toHaveTextContent(NO_GPU_DETAIL));
    unmount();
    server([job(1)], [], [down("http://gpu-1:7860"), { ...down("http://gpu-2:7860"), healthy: true }]);
    render(() => <ChatPage />);
    await waitFor(() => expect(card("prompt 1")).toHaveTextContent("Waiting for a GPU"));
    expect(card("prompt 1")).not.toHaveTextContent(NO_GPU_DETAIL);
  });

  it("is not offered for a single waiting job, which has its own Cancel", async () => {
    history.replaceState(null, "", `/?c=${CONVERSATION}`);
    const api = server([job(1, { status: "processing", queuePosition: 0 }), job(2), job(3)], []);
    render(() => <ChatPage />);
    await screen.findByRole("button", { name: "Cancel 2 waiting" });
    await api.send({ ...job(3), status: "cancelled", queuePosition: 0 });
    await waitFor(() => expect(screen.queryByRole("button", { name: /waiting/ })).not.toBeInTheDocument());
    expect(card("prompt 2")).toHaveAttribute("data-status", "queued");
  });
});

import { render, screen, waitFor, within } from "@solidjs/testing-library";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { sseStream } from "../lib/test-support";
import type { Conversation, ConversationEvent } from "../lib/types";
import { ChatPage } from "./chat-page";

const ok = (data: unknown) => ({ result: { data } });
const conversation = (id: string, title: string, createdAt: string): Conversation => ({
  id,
  title,
  createdAt,
  owner: "local",
});
const foxes = conversation("c1", "Foxes", "2026-12-02T10:00:00.000Z");
const harbours = conversation("c2", "Harbours", "2026-12-01T10:00:00.000Z");

const eventStream = () => sseStream<ConversationEvent>();

/**
 * The server the page talks to: `conversations.list` answers `listed`, `conversations.events` is a stream the test
 * writes to (null until the page opens it), the job stream stays open and silent, everything else is empty.
 */
function server(listed: Conversation[], missing: string[] = []) {
  const asked: string[] = [];
  let stream: ReturnType<typeof eventStream> | null = null;
  vi.stubGlobal("fetch", async (input: RequestInfo | URL) => {
    const url = new URL(String(input), "http://anvil.test");
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    asked.push(...procedures);
    if (procedures.includes("jobs.events")) return new Promise<Response>(() => undefined);
    if (procedures.includes("conversations.events")) {
      stream = eventStream();
      return stream.response;
    }
    const notFound = { error: { message: "not found", code: -32004, data: { code: "NOT_FOUND", httpStatus: 404 } } };
    const replies = procedures.map((procedure) =>
      missing.includes(procedure)
        ? notFound
        : ({
            "conversations.list": ok(listed),
            "queue.status": ok({ paused: false, backends: [] }),
            "jobs.list": ok({ items: [], nextCursor: null }),
          }[procedure] ?? ok([])),
    );
    return Response.json(url.searchParams.has("batch") ? replies : replies[0]);
  });
  return {
    lists: () => asked.filter((procedure) => procedure === "conversations.list").length,
    send: async (event: ConversationEvent) => {
      await waitFor(() => expect(stream).not.toBeNull());
      stream!.send(event);
    },
  };
}

const sidebar = () => within(document.getElementById("sidebar")!);

describe("<ChatPage> conversations made, renamed and deleted elsewhere", () => {
  beforeEach(() => {
    // jsdom lays nothing out; the message list scrolls to its end.
    Element.prototype.scrollTo = () => undefined;
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    history.replaceState(null, "", "/");
  });

  it("shows them in the list as they happen, without a poll, and leaves the open one once it is deleted", async () => {
    history.replaceState(null, "", "/?c=c1");
    const api = server([foxes, harbours]);
    render(() => <ChatPage />);
    await sidebar().findByText("Foxes");
    // The stream begins with a reload: the list is read once more, then never again in this test.
    await api.send({ kind: "reload" });
    await waitFor(() => expect(api.lists()).toBe(2));

    await api.send({ kind: "saved", conversation: conversation("c3", "Lighthouses", "2026-12-03T10:00:00.000Z") });
    await sidebar().findByText("Lighthouses");
    const titles = () =>
      [...document.querySelectorAll<HTMLElement>("#sidebar [data-conversation-id]")].map((row) => row.textContent);
    expect(titles()[0]).toContain("Lighthouses");

    await api.send({ kind: "saved", conversation: { ...harbours, title: "Harbours at night" } });
    await sidebar().findByText("Harbours at night");
    expect(sidebar().queryByText("Harbours")).not.toBeInTheDocument();

    await api.send({ kind: "deleted", conversationId: "c1" });
    const notice = await screen.findByText(/was deleted in another tab or window/);
    expect(notice.closest("[role=status]")).toHaveTextContent("“Foxes” was deleted in another tab or window.");
    expect(sidebar().queryByText("Foxes")).not.toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "What should we make?" })).toBeInTheDocument();
    expect(location.search).toBe("");
    expect(titles()).toHaveLength(2);
    expect(api.lists()).toBe(2);
  });

  it("says a conversation a link opened is gone, without claiming another tab deleted it", async () => {
    // A link to a conversation the server does not find: deleted long ago, or another user's.
    history.replaceState(null, "", "/?c=c9");
    server([foxes], ["messages.list", "conversations.get", "jobs.list"]);
    render(() => <ChatPage />);
    const notice = await screen.findByText(/is gone: it was deleted, or it is not yours/);
    expect(notice.closest("[role=status]")).toHaveTextContent(
      "The conversation this page opened is gone: it was deleted, or it is not yours.",
    );
    expect(screen.queryByText(/another tab/)).not.toBeInTheDocument();
    expect(location.search).toBe("");
  });

  it("says nothing when a conversation that is not open is deleted elsewhere", async () => {
    history.replaceState(null, "", "/?c=c1");
    const api = server([foxes, harbours]);
    render(() => <ChatPage />);
    await sidebar().findByText("Harbours");
    await api.send({ kind: "deleted", conversationId: "c2" });
    await waitFor(() => expect(sidebar().queryByText("Harbours")).not.toBeInTheDocument());
    expect(screen.queryByText(/was deleted/)).not.toBeInTheDocument();
    expect(location.search).toBe("?c=c1");
  });
});

import { describe, expect, it, vi } from "vitest";
import { createConversationList, keepingUnchanged, withConversation } from "./conversation-list";
import { mountedForTest } from "./test-support";
import type { Conversation } from "./types";

const conversation = (id: string, title: string, owner = "local"): Conversation => ({
  id,
  title,
  createdAt: "2026-12-01T10:00:00.000Z",
  owner,
});

describe("keepingUnchanged", () => {
  it("keeps the shown object of a conversation that did not change, and takes the fresh one of one that did", () => {
    const [foxes, lighthouses] = [conversation("c1", "Foxes"), conversation("c2", "Lighthouses")];
    const fresh = [
      conversation("c3", "Harbours"),
      conversation("c1", "Foxes"),
      conversation("c2", "Lighthouses at dusk"),
    ];
    const list = keepingUnchanged([foxes, lighthouses], fresh);
    expect(list).toEqual(fresh);
    expect(list[1]).toBe(foxes);
    expect(list[2]).toBe(fresh[2]);
  });
});

describe("withConversation", () => {
  const at = (id: string, title: string, day: number): Conversation => ({
    id,
    title,
    createdAt: `2026-12-${String(day).padStart(2, "0")}T10:00:00.000Z`,
    owner: "local",
  });
  const shown = [at("c3", "Harbours", 3), at("c1", "Foxes", 1)];

  it("puts a conversation made elsewhere where the list's order puts it", () => {
    expect(withConversation(shown, at("c4", "Lighthouses", 4), false).map((c) => c.id)).toEqual(["c4", "c3", "c1"]);
    expect(withConversation(shown, at("c2", "Boats", 2), false).map((c) => c.id)).toEqual(["c3", "c2", "c1"]);
    expect(withConversation(shown, at("c0", "Old", 0), false).map((c) => c.id)).toEqual(["c3", "c1", "c0"]);
  });

  it("leaves one older than the last shown to Show older while older ones are not listed", () => {
    expect(withConversation(shown, at("c0", "Old", 0), true)).toBe(shown);
  });

  it("renames a listed conversation in its place, and keeps the list when nothing changed", () => {
    const renamed = withConversation(shown, at("c1", "Foxes in snow", 1), false);
    expect(renamed.map((c) => c.title)).toEqual(["Harbours", "Foxes in snow"]);
    expect(renamed[0]).toBe(shown[0]);
    expect(withConversation(shown, at("c1", "Foxes", 1), false)).toBe(shown);
  });
});

/**
 * A server for the list's calls: `conversations.list` answers `delayMs` after it is asked (each read counted in
 * `lists`), and each `conversations.events` stream stays open and silent, its signal kept in `streams`.
 */
const listServer = (delayMs = 0) => {
  const server = { lists: 0, streams: [] as AbortSignal[] };
  vi.stubGlobal("fetch", async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://anvil.test");
    if (url.pathname.includes("conversations.events") && init?.signal) server.streams.push(init.signal);
    if (url.pathname.includes(".events")) return new Promise<Response>(() => undefined);
    const procedures = url.pathname.replace("/trpc/", "").split(",");
    server.lists += procedures.filter((procedure) => procedure === "conversations.list").length;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    const replies = procedures.map(() => ({ result: { data: [conversation("c1", "Foxes")] } }));
    return Response.json(url.searchParams.has("batch") ? replies : replies[0]);
  });
  return server;
};

describe("createConversationList", () => {
  /** A list with no conversation open, once its first read is asked for (as the chat state asks for it). */
  const listed = async (pollMs?: number) => {
    const list = mountedForTest(() =>
      createConversationList({
        openId: () => null,
        onRead: () => undefined,
        onOpenUnlisted: () => undefined,
        onDeleted: () => undefined,
        onChanged: () => undefined,
        onFocus: () => undefined,
        pollMs,
      }),
    );
    void list.load();
    await vi.advanceTimersByTimeAsync(10);
    return list;
  };

  it("holds the conversation stream only while the page is visible, and reopens it when shown", async () => {
    vi.useFakeTimers();
    const { streams } = listServer();
    await listed();
    const live = () => streams.filter((signal) => !signal.aborted).length;
    expect(live()).toBe(1);
    const hidden = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(10);
    expect(live()).toBe(0);
    hidden.mockRestore();
    document.dispatchEvent(new Event("visibilitychange"));
    await vi.advanceTimersByTimeAsync(10);
    expect(live()).toBe(1);
    expect(streams).toHaveLength(2);
  });

  it("does not read the list while the page is hidden, nor again right after a read that outlasted a tick", async () => {
    vi.useFakeTimers();
    // Each read of the list answers 50 seconds after it is asked.
    const server = listServer(50_000);
    await listed(20_000);
    const lists = () => server.lists;
    await vi.advanceTimersByTimeAsync(50_000);
    const hidden = vi.spyOn(document, "visibilityState", "get").mockReturnValue("hidden");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lists()).toBe(1);
    hidden.mockRestore();
    // Asked at 120 s, answered at 170 s: the ticks at 140 and 160 s are skipped, the one at 180 s asks again.
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lists()).toBe(2);
    await vi.advanceTimersByTimeAsync(55_000);
    expect(lists()).toBe(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(lists()).toBe(3);
  });
});

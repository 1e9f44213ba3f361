import { describe, expect, it, vi } from "vitest";
import { keepingUnchanged, unlistedConversationWatch } from "./chat-state";
import { makeJob } from "./test-support";
import type { Conversation } from "./types";

const conversation = (id: string, title: string): Conversation => ({
  id,
  title,
  createdAt: "2026-12-01T10:00:00.000Z",
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

describe("unlistedConversationWatch", () => {
  it("reads the list again once for a job of the user's in a conversation it does not hold", () => {
    const reload = vi.fn();
    const listed = new Set(["c1"]);
    const note = unlistedConversationWatch({
      listed: (id) => listed.has(id),
      mine: (job) => job.owner === "alice",
      reload,
    });
    note(makeJob({ conversationId: "c1", owner: "alice" }));
    note(makeJob({ conversationId: "c9", owner: "bob" }));
    expect(reload).not.toHaveBeenCalled();
    note(makeJob({ conversationId: "c2", owner: "alice" }));
    note(makeJob({ conversationId: "c2", owner: "alice", status: "processing", progress: 30 }));
    expect(reload).toHaveBeenCalledTimes(1);
    note(makeJob({ conversationId: "c3", owner: "alice" }));
    expect(reload).toHaveBeenCalledTimes(2);
  });
});

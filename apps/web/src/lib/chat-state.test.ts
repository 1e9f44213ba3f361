import { describe, expect, it } from "vitest";
import { keepingUnchanged } from "./chat-state";
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

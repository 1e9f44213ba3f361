import { describe, expect, it } from "vitest";
import { keepingUnchanged, withConversation } from "./conversation-list";
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

import { describe, expect, it, vi } from "vitest";
import { unlistedConversationWatch } from "./job-intake";
import { makeJob } from "./test-support";

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

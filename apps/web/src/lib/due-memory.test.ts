import { dueClock } from "@anvil/client";
import { describe, expect, it } from "vitest";
import { forgetTab } from "./draft";
import { DUE_KEPT_MS, forgetDue, pruneDueMemory, storedDueMemory } from "./due-memory";
import { makeJob } from "./test-support";

const T0 = Date.parse("2025-01-01T10:00:00.000Z");
const job = makeJob({ status: "processing", queuePosition: 0, startedAt: "2025-01-01T09:59:00.000Z" });
const other = makeJob({ id: "c4a1e2b3-0000-4000-8000-000000000001" });

describe("storedDueMemory", () => {
  it("is shared by every clock over the same job's estimate, as a reload's page or another tab's would be", () => {
    dueClock(storedDueMemory(job, "finish"))(new Date(T0).toISOString(), T0);
    expect(storedDueMemory(job, "finish").read()).toBe(T0);
    expect(storedDueMemory(job, "start").read()).toBeNull();
    expect(storedDueMemory(other, "finish").read()).toBeNull();
  });

  it("reads nothing from an unreadable entry, and nothing from one of the job's earlier run", () => {
    localStorage.setItem(`anvil:due:${job.id}:finish`, "{not json");
    expect(storedDueMemory(job, "finish").read()).toBeNull();
    storedDueMemory({ ...job, attempt: 1 }, "finish").write(T0);
    expect(storedDueMemory({ ...job, attempt: 2 }, "finish").read()).toBeNull();
  });
});

describe("forgetDue", () => {
  it("forgets both of a job's estimates, and no other job's", () => {
    storedDueMemory(job, "start").write(T0);
    storedDueMemory(job, "finish").write(T0);
    storedDueMemory(other, "start").write(T0);
    forgetDue(job.id);
    expect(storedDueMemory(job, "start").read()).toBeNull();
    expect(storedDueMemory(job, "finish").read()).toBeNull();
    expect(storedDueMemory(other, "start").read()).toBe(T0);
  });
});

describe("pruneDueMemory", () => {
  it("forgets entries due for over a day and unreadable ones, and keeps the rest of storage", () => {
    storedDueMemory(job, "finish").write(T0 - DUE_KEPT_MS - 1);
    storedDueMemory(other, "start").write(T0 - 60_000);
    localStorage.setItem(`anvil:due:${other.id}:finish`, "garbage");
    localStorage.setItem("anvil:theme", "dark");
    pruneDueMemory(T0);
    expect(Object.keys(localStorage).sort()).toEqual([`anvil:due:${other.id}:start`, "anvil:theme"]);
  });
});

describe("forgetTab", () => {
  it("forgets every job's entries, as signing out does, and keeps the browser's theme", () => {
    storedDueMemory(job, "finish").write(T0);
    storedDueMemory(other, "start").write(T0);
    localStorage.setItem("anvil:theme", "dark");
    forgetTab();
    expect(Object.keys(localStorage)).toEqual(["anvil:theme"]);
  });
});

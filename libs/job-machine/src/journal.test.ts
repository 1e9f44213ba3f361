import { describe, expect, it } from "vitest";
import { Journal } from "./journal";
import type { JournalEntry } from "./journal";

const progress = (jobId: string, value: number): JournalEntry => ({ kind: "progress", jobId, progress: value });

describe("Journal", () => {
  it("retries a failed write and publishes once it succeeds", async () => {
    let calls = 0;
    const published: JournalEntry[] = [];
    const journal = new Journal<string>({
      persist: async (entries) => {
        if (++calls < 3) throw new Error("connection refused");
        return entries.map(() => "ok");
      },
      publish: (entry) => void published.push(entry),
    });
    await journal.record(progress("a", 10));
    expect(calls).toBe(3);
    expect(published).toEqual([progress("a", 10)]);
  });

  it("goes on after a publish throws: every entry settles and the next ones are published", async () => {
    const published: JournalEntry[] = [];
    const failures: unknown[] = [];
    const journal = new Journal<string>({
      persist: async (entries) => entries.map(() => "ok"),
      publish: (entry) => {
        if (entry.jobId === "a") throw new Error("a listener failed");
        published.push(entry);
      },
      onPublishError: (error) => void failures.push(error),
    });
    await Promise.all([journal.record(progress("a", 10)), journal.record(progress("b", 20))]);
    await journal.record(progress("c", 30));
    expect(published).toEqual([progress("b", 20), progress("c", 30)]);
    expect(failures).toHaveLength(1);
  });

  it("coalesces waiting progress of one job to its latest value", async () => {
    const written: JournalEntry[][] = [];
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const journal = new Journal<number>({
      persist: async (entries) => {
        written.push([...entries]);
        await gate;
        return entries.map(() => 0);
      },
      publish: () => {},
    });
    void journal.record(progress("a", 10));
    void journal.record(progress("a", 20));
    void journal.record(progress("a", 30));
    release();
    await journal.flush();
    expect(written).toEqual([[progress("a", 10)], [progress("a", 30)]]);
  });

  it("publishes in the order entries were recorded", async () => {
    const published: number[] = [];
    const journal = new Journal<number>({
      persist: async (entries) => entries.map((e) => (e.kind === "progress" ? e.progress : -1)),
      publish: (_, value) => void published.push(value),
    });
    await Promise.all([1, 2, 3, 4].map((n) => journal.record(progress(`job-${n}`, n))));
    expect(published).toEqual([1, 2, 3, 4]);
  });
});

import { describe, expect, it } from "vitest";
import { InvalidCursor } from "./errors";
import type { JobRecord } from "./records";
import { must, params, snapshot, useTestDatabase } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";

describe.each(testDrivers(process.env.TEST_DATABASE_URL))("JobStore queries on $kind", (driver) => {
  const { store } = useTestDatabase(driver);
  const submit = async (prompt: string, conversationId?: string): Promise<JobRecord> =>
    (await store().submitJob({ prompt, params, ...(conversationId === undefined ? {} : { conversationId }) })).job;
  const start = (job: JobRecord) =>
    store().applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot });
  const positions = (jobs: JobRecord[]) => Promise.all(jobs.map((job) => store().queuePosition(job.id)));

  it("queuePosition numbers queued jobs 1..n in submission order, 0 once they leave the queue", async () => {
    const jobs = [];
    for (const prompt of ["a", "b", "c", "d"]) jobs.push(await submit(prompt));
    expect(await positions(jobs)).toEqual([1, 2, 3, 4]);
    await start(must(jobs[0]));
    await store().applyTransition({ jobId: must(jobs[2]).id, from: "queued", to: "cancelled", snapshot });
    expect(await positions(jobs)).toEqual([0, 1, 0, 2]);
    expect(await store().queuePosition("00000000-0000-4000-8000-000000000000")).toBe(0);
    expect(await store().queuePosition("garbage")).toBe(0);
  });

  it("activeJobs lists queued and processing jobs in submission order", async () => {
    const [a, b, c, d] = [await submit("a"), await submit("b"), await submit("c"), await submit("d")];
    await start(must(c));
    await store().applyTransition({ jobId: must(a).id, from: "queued", to: "cancelled", snapshot });
    expect((await store().activeJobs()).map((j) => [j.prompt, j.status])).toEqual([
      ["b", "queued"],
      ["c", "processing"],
      ["d", "queued"],
    ]);
    expect(must(b).seq).toBeLessThan(must(d).seq);
  });

  it("recentRuns lists the last jobs that ran on a backend and ended, in the order they started", async () => {
    const [a, b, c, d] = [await submit("a"), await submit("b"), await submit("c"), await submit("d")];
    const run = async (job: JobRecord, startedAt: string, to: "complete" | "cancelled") => {
      const patch = { startedAt: new Date(startedAt), backend: "http://gpu:7860", attempts: 1 };
      await store().applyTransition({ jobId: job.id, from: "queued", to: "processing", patch, snapshot });
      const finishedAt = new Date(Date.parse(startedAt) + 5_000);
      await store().applyTransition({ jobId: job.id, from: "processing", to, patch: { finishedAt }, snapshot });
    };
    // Started out of submission order (a job moved to the front), one cancelled while running, one before it ran.
    await run(must(b), "2026-01-01T10:00:00.000Z", "complete");
    await run(must(a), "2026-01-01T10:00:05.000Z", "complete");
    await run(must(c), "2026-01-01T10:00:10.000Z", "cancelled");
    await store().applyTransition({ jobId: must(d).id, from: "queued", to: "cancelled", snapshot });
    expect((await store().recentRuns(10)).map((job) => [job.prompt, job.status, job.startedAt])).toEqual([
      ["b", "complete", "2026-01-01T10:00:00.000Z"],
      ["a", "complete", "2026-01-01T10:00:05.000Z"],
      ["c", "cancelled", "2026-01-01T10:00:10.000Z"],
    ]);
    expect((await store().recentRuns(2)).map((job) => job.prompt)).toEqual(["b", "c"]);
  });

  it("listJobs pages oldest first with an opaque cursor until nextCursor is null", async () => {
    for (const prompt of ["1", "2", "3", "4", "5"]) await submit(prompt);
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await store().listJobs({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
      pages.push(page.items.map((j) => j.prompt));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages).toEqual([["1", "2"], ["3", "4"], ["5"]]);
    expect((await store().listJobs({ limit: 5 })).nextCursor).toBeNull();
  });

  it("listJobs goes on in the order a cursor was made with, whatever order the next call names", async () => {
    for (const prompt of ["1", "2", "3", "4", "5"]) await submit(prompt);
    const prompts = (page: { items: { prompt: string }[] }) => page.items.map((j) => j.prompt);
    const newest = await store().listJobs({ limit: 2, order: "newest" });
    expect(prompts(newest)).toEqual(["5", "4"]);
    // A pager that passes the cursor alone (the order left to its default, oldest first), or names the other order.
    const next = await store().listJobs({ limit: 2, cursor: newest.nextCursor! });
    expect(prompts(next)).toEqual(["3", "2"]);
    expect(prompts(await store().listJobs({ limit: 2, cursor: next.nextCursor!, order: "oldest" }))).toEqual(["1"]);
    const oldest = await store().listJobs({ limit: 2 });
    expect(prompts(await store().listJobs({ limit: 2, cursor: oldest.nextCursor!, order: "newest" }))).toEqual([
      "3",
      "4",
    ]);
    // A bare seq (a cursor of a server before these marks, in a rolling upgrade) goes on in the call's order.
    expect(prompts(await store().listJobs({ limit: 2, cursor: "3", order: "newest" }))).toEqual(["2", "1"]);
  });

  it("listJobs filters by status and by conversation", async () => {
    const a = await submit("a");
    const b = await submit("b", a.conversationId);
    const c = await submit("c");
    await start(b);
    const prompts = async (input: Parameters<ReturnType<typeof store>["listJobs"]>[0]) =>
      (await store().listJobs(input)).items.map((j) => j.prompt);
    expect(await prompts({ limit: 10, status: ["queued"] })).toEqual(["a", "c"]);
    expect(await prompts({ limit: 10, status: ["processing", "complete"] })).toEqual(["b"]);
    expect(await prompts({ limit: 10, status: [] })).toEqual([]);
    expect(await prompts({ limit: 10, conversationId: a.conversationId })).toEqual(["a", "b"]);
    expect(await prompts({ limit: 10, conversationId: c.conversationId, status: ["processing"] })).toEqual([]);
    expect(await prompts({ limit: 10, conversationId: "not-a-uuid" })).toEqual([]);
  });

  it("listJobs rejects a cursor it did not hand out with InvalidCursor", async () => {
    for (const cursor of ["", "abc", "-1", "1.5", "99999999999999999999", " 1", "n", "nn1", "x1", "o-1"]) {
      await expect(store().listJobs({ limit: 10, cursor })).rejects.toThrow(InvalidCursor);
    }
    // Saying what to send instead.
    await expect(store().listJobs({ limit: 10, cursor: "abc" })).rejects.toThrow(
      'cursor "abc" is not one jobs.list handed out: pass a page\'s nextCursor as it came, or no cursor for the first page',
    );
  });

  it("lists conversations newest first and a conversation's messages oldest first", async () => {
    const older = await store().createConversation("older");
    const newer = await store().createConversation();
    expect(newer.title).toBe("New conversation");
    expect((await store().listConversations()).map((c) => c.id)).toEqual([newer.id, older.id]);
    await submit("first", older.id);
    await submit("second", older.id);
    const messages = await store().listMessages(older.id);
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(messages.filter((m) => m.role === "user").map((m) => m.content)).toEqual(["first", "second"]);
    expect(messages.map((m) => m.createdAt)).toEqual([...messages.map((m) => m.createdAt)].sort());
    expect(await store().getConversation("not-a-uuid")).toBeNull();
    expect(await store().listMessages("not-a-uuid")).toEqual([]);
  });
});

import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, occupyGpu, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { recordJobEvents } from "./testing/job-events";
import { useTestServer } from "./testing/test-server";
import { waitForStatus } from "./testing/wait";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe.each(testDrivers())("API procedures on $kind", (driver) => {
  const server = useTestServer(driver);

  describe("health", () => {
    it("reports ok, the database kind and a healthy backend when everything answers", async () => {
      const { trpc, simulator } = server();
      expect(await trpc.health.query()).toEqual({
        ok: true,
        database: driver.kind,
        backends: [{ url: simulator.url, healthy: true }],
      });
    });
  });

  describe("ids in capital letters", () => {
    it("are the same ids: a job's stream, a submit into the conversation and its deletion all find them", async () => {
      const { trpc } = server();
      const conversation = await trpc.conversations.create.mutate({ title: "Capitals" });
      const job = await trpc.jobs.submit.mutate({
        prompt: uniquePrompt("capitals"),
        ...quick,
        conversationId: conversation.id.toUpperCase(),
      });
      expect(job.conversationId).toBe(conversation.id);
      // The stream of one job, asked for in capitals, carries it to its end (it was silent).
      const stream = await recordJobEvents(server(), trpc, { jobId: job.id.toUpperCase() });
      await stream.untilStatus(job.id, "complete");
      stream.stop();
      const deleted = await trpc.conversations.delete.mutate({ conversationId: conversation.id.toUpperCase() });
      expect(deleted.id).toBe(conversation.id);
    });
  });

  describe("conversations.create", () => {
    it("returns a new conversation with the title given", async () => {
      const conversation = await server().trpc.conversations.create.mutate({ title: "Lighthouses" });
      expect(conversation).toEqual({
        id: expect.stringMatching(UUID),
        title: "Lighthouses",
        createdAt: expect.stringMatching(ISO),
        owner: "local",
      });
    });

    it("gives a conversation a title when none is given", async () => {
      const conversation = await server().trpc.conversations.create.mutate({});
      expect(conversation.title).toEqual(expect.any(String));
      expect(conversation.title.length).toBeGreaterThan(0);
    });
  });

  describe("conversations.rename", () => {
    it("gives a conversation a new title, trimmed, which the list then shows", async () => {
      const { trpc } = server();
      const { id: conversationId, createdAt } = await trpc.conversations.create.mutate({ title: "Lighthouses" });
      expect(await trpc.conversations.rename.mutate({ conversationId, title: "  Harbours at night " })).toEqual({
        id: conversationId,
        title: "Harbours at night",
        createdAt,
        owner: "local",
      });
      expect((await trpc.conversations.list.query()).find((c) => c.id === conversationId)?.title).toBe(
        "Harbours at night",
      );
    });

    it("refuses an empty or overlong title and an unknown conversation, and keeps the title", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({ title: "Lighthouses" });
      for (const title of ["   ", "x".repeat(201)]) {
        const error = await trpcError(trpc.conversations.rename.mutate({ conversationId, title }));
        expect(codeOf(error).code).toBe("BAD_REQUEST");
        expect(error.message).toMatch(/^title must (not be empty|be at most 200 characters)$/);
      }
      const unknown = trpc.conversations.rename.mutate({ conversationId: randomUUID(), title: "Elsewhere" });
      expect(codeOf(await trpcError(unknown)).code).toBe("NOT_FOUND");
      expect((await trpc.conversations.list.query()).find((c) => c.id === conversationId)?.title).toBe("Lighthouses");
    });
  });

  describe("conversations.get", () => {
    it("reads one conversation as the list shows it; an unknown one is NOT_FOUND, a bad id BAD_REQUEST", async () => {
      const { trpc } = server();
      const created = await trpc.conversations.create.mutate({ title: "Read alone" });
      expect(await trpc.conversations.get.query({ conversationId: created.id })).toEqual(created);
      const unknown = await trpcError(trpc.conversations.get.query({ conversationId: randomUUID() }));
      expect(codeOf(unknown)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
      const bad = await trpcError(trpc.conversations.get.query({ conversationId: "nope" }));
      expect(codeOf(bad)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
    });
  });

  describe("conversations.list", () => {
    it("lists conversations newest first", async () => {
      const { trpc } = server();
      const created = [];
      for (const title of ["first", "second", "third"]) created.push(await trpc.conversations.create.mutate({ title }));
      const ids = created.map((c) => c.id);
      const listed = (await trpc.conversations.list.query()).filter((c) => ids.includes(c.id));
      expect(listed.map((c) => c.title)).toEqual(["third", "second", "first"]);
    });

    it("pages the list, newest first: limit, then before the last one listed, each conversation once", async () => {
      const { trpc } = server();
      // One statement makes all of them: they list newest first all the same, the last submitted first.
      const batch = await trpc.jobs.submitMany.mutate({
        jobs: Array.from({ length: 7 }, (_, i) => ({ prompt: uniquePrompt(`paged ${i}`), ...quick })),
      });
      await trpc.conversations.create.mutate({ title: "newest" });
      const whole = await trpc.conversations.list.query();
      const pages: string[][] = [];
      let before: string | undefined;
      for (;;) {
        const page = await trpc.conversations.list.query({ limit: 3, ...(before ? { before } : {}) });
        expect(page.length).toBeLessThanOrEqual(3);
        if (page.length === 0) break;
        pages.push(page.map((c) => c.id));
        before = page.at(-1)!.id;
      }
      expect(pages.flat()).toEqual(whole.map((c) => c.id));
      expect(pages[0]![0]).toBe(whole[0]!.id);
      const batchIds = batch.map((job) => job.conversationId);
      expect(whole.map((c) => c.id).filter((id) => batchIds.includes(id))).toEqual([...batchIds].reverse());
      // A `before` that names no conversation of the list gives an empty page; bad input is refused, naming the field.
      expect(await trpc.conversations.list.query({ limit: 3, before: randomUUID() })).toEqual([]);
      for (const input of [{ limit: 0 }, { limit: 501 }, { limit: 3, before: "nope" }, { before: whole[0]!.id }]) {
        const error = await trpcError(trpc.conversations.list.query(input as { limit: number }));
        expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
        expect(error.message).toMatch(/limit|before/);
      }
    });
  });

  describe("messages.list", () => {
    it("lists a conversation's messages oldest first, each prompt followed by its assistant reply", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const first = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("first"), conversationId, ...quick });
      const second = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("second"), conversationId, ...quick });
      const messages = await trpc.messages.list.query({ conversationId });
      expect(messages.map((m) => [m.role, m.role === "assistant" ? m.metadata["jobId"] : m.content])).toEqual([
        ["user", first.prompt],
        ["assistant", first.id],
        ["user", second.prompt],
        ["assistant", second.id],
      ]);
      expect(messages.map((m) => m.id)).toContain(first.messageId);
      const times = messages.map((m) => Date.parse(m.createdAt));
      expect(times).toEqual([...times].sort((a, b) => a - b));
    });

    it("carries the queued job's live state in the assistant message's metadata", async () => {
      const { trpc } = server();
      await occupyGpu(server());
      const prompt = uniquePrompt("waiting");
      const job = await trpc.jobs.submit.mutate({ prompt, ...quick });
      const assistant = (await trpc.messages.list.query({ conversationId: job.conversationId })).find(
        (m) => m.id === job.messageId,
      );
      expect(assistant?.metadata).toMatchObject({
        jobId: job.id,
        status: "queued",
        queuePosition: 1,
        progress: 0,
        imageUrl: null,
        error: null,
        prompt,
      });
    });

    it("reflects the job's completion in the assistant message's metadata", async () => {
      const { trpc } = server();
      const prompt = uniquePrompt("finished");
      const job = await trpc.jobs.submit.mutate({ prompt, ...quick });
      await waitForStatus(trpc, job.id, "complete");
      const assistant = (await trpc.messages.list.query({ conversationId: job.conversationId })).find(
        (m) => m.id === job.messageId,
      );
      expect(assistant?.metadata).toMatchObject({
        jobId: job.id,
        status: "complete",
        queuePosition: 0,
        progress: 100,
        imageUrl: `/images/${job.id}.png`,
        error: null,
        prompt,
      });
    });

    it("is NOT_FOUND (404) for a conversation that does not exist", async () => {
      const error = await trpcError(server().trpc.messages.list.query({ conversationId: randomUUID() }));
      expect(codeOf(error)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
    });
  });

  describe("jobs.submit", () => {
    it("fills every default when only a prompt is given", async () => {
      const { trpc } = server();
      const prompt = uniquePrompt("defaults");
      const job = await trpc.jobs.submit.mutate({ prompt });
      expect(job).toMatchObject({
        id: expect.stringMatching(UUID),
        conversationId: expect.stringMatching(UUID),
        messageId: expect.stringMatching(UUID),
        status: "queued",
        progress: 0,
        prompt,
        params: {
          negativePrompt: "",
          width: 1024,
          height: 1024,
          steps: 20,
          cfgScale: 1,
          distilledCfgScale: 3.5,
          seed: -1,
          sampler: "Euler",
          scheduler: null,
          checkpoint: null,
          modules: [],
        },
        imageUrl: null,
        usedSeed: null,
        error: null,
        createdAt: expect.stringMatching(ISO),
        startedAt: null,
        finishedAt: null,
      });
      expect(job.queuePosition).toBeGreaterThanOrEqual(1);
    });

    it("keeps the parameters given", async () => {
      const params = {
        negativePrompt: "fog",
        width: 512,
        height: 768,
        steps: 3,
        cfgScale: 3.5,
        distilledCfgScale: 2.5,
        seed: 4294967295,
        sampler: "DPM++ 2M",
      };
      const job = await server().trpc.jobs.submit.mutate({
        prompt: uniquePrompt("params"),
        ...params,
        scheduler: "Karras",
      });
      // The scheduler is stored by the name the backend gives it (its label was submitted).
      expect(job.params).toEqual({ ...params, scheduler: "karras", checkpoint: null, modules: [] });
    });

    it("creates a conversation with the prompt in it when no conversationId is given", async () => {
      const { trpc } = server();
      const prompt = uniquePrompt("new conversation");
      const job = await trpc.jobs.submit.mutate({ prompt, ...quick });
      expect((await trpc.conversations.list.query()).map((c) => c.id)).toContain(job.conversationId);
      const messages = await trpc.messages.list.query({ conversationId: job.conversationId });
      expect(messages.map((m) => m.role)).toEqual(["user", "assistant"]);
      expect(messages[0]?.content).toBe(prompt);
    });

    it("adds the job to the conversation given", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const job = await trpc.jobs.submit.mutate({
        prompt: uniquePrompt("existing conversation"),
        conversationId,
        ...quick,
      });
      expect(job.conversationId).toBe(conversationId);
    });

    it("is NOT_FOUND (404) when the conversation given does not exist, in the words of every other procedure", async () => {
      const conversationId = randomUUID();
      const error = await trpcError(
        server().trpc.jobs.submit.mutate({ prompt: uniquePrompt("orphan"), conversationId }),
      );
      expect(codeOf(error)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
      const elsewhere = await trpcError(server().trpc.messages.list.query({ conversationId }));
      expect(error.message).toBe(elsewhere.message);
    });

    it("returns the first job again when the same idempotencyKey is submitted again", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const idempotencyKey = randomUUID();
      // The same request again (a retry): the same key with another request would be CONFLICT.
      const request = { prompt: uniquePrompt("once"), conversationId, idempotencyKey, ...quick };
      const first = await trpc.jobs.submit.mutate(request);
      const again = await trpc.jobs.submit.mutate(request);
      expect(again.id).toBe(first.id);
      expect((await trpc.jobs.list.query({ conversationId })).items.map((j) => j.id)).toEqual([first.id]);
    });

    it("makes exactly one job when concurrent submits share an idempotencyKey", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const idempotencyKey = randomUUID();
      const prompt = uniquePrompt("concurrent");
      const jobs = await Promise.all(
        Array.from({ length: 8 }, () => trpc.jobs.submit.mutate({ prompt, conversationId, idempotencyKey, ...quick })),
      );
      expect(new Set(jobs.map((j) => j.id)).size).toBe(1);
      expect((await trpc.jobs.list.query({ conversationId })).items).toHaveLength(1);
      expect((await trpc.messages.list.query({ conversationId })).filter((m) => m.role === "assistant")).toHaveLength(
        1,
      );
    });

    it("is BAD_REQUEST (400) listing the known checkpoints when the backend does not know the checkpoint", async () => {
      const error = await trpcError(
        server().trpc.jobs.submit.mutate({ prompt: uniquePrompt("unknown model"), checkpoint: "no-such-model" }),
      );
      expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("checkpoint");
      expect(error.message).toContain("no-such-model");
      for (const known of ["flux1-dev", "flux1-schnell", "sdxl-base-1.0"]) expect(error.message).toContain(known);
    });

    it("accepts a checkpoint the backend knows and generates with it", async () => {
      const { trpc, simulator } = server();
      const [, model] = await trpc.checkpoints.list.query();
      const loadsBefore = simulator.stats().modelLoads;
      const job = await trpc.jobs.submit.mutate({
        prompt: uniquePrompt("known model"),
        checkpoint: model!.name,
        ...quick,
      });
      expect(job.params.checkpoint).toBe(model!.title);
      await waitForStatus(trpc, job.id, "complete");
      expect(simulator.stats().modelLoads).toBeGreaterThan(loadsBefore);
    });
  });

  describe("jobs.get", () => {
    it("returns the job as it is now, with the result once it is complete", async () => {
      const { trpc } = server();
      const submitted = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("get"), ...quick });
      await waitForStatus(trpc, submitted.id, "complete");
      const job = await trpc.jobs.get.query({ jobId: submitted.id });
      expect(job).toMatchObject({
        id: submitted.id,
        status: "complete",
        queuePosition: 0,
        progress: 100,
        imageUrl: `/images/${submitted.id}.png`,
        usedSeed: expect.any(Number),
        error: null,
        startedAt: expect.stringMatching(ISO),
        finishedAt: expect.stringMatching(ISO),
      });
      expect(job.usedSeed).not.toBe(-1);
    });

    it("is NOT_FOUND (404) for a job id that does not exist", async () => {
      const error = await trpcError(server().trpc.jobs.get.query({ jobId: randomUUID() }));
      expect(codeOf(error)).toEqual({ code: "NOT_FOUND", httpStatus: 404 });
    });
  });

  describe("jobs.list", () => {
    it("lists a conversation's jobs oldest first", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const ids = [];
      for (let i = 0; i < 3; i++) {
        ids.push((await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`job ${i}`), conversationId, ...quick })).id);
      }
      const { items, nextCursor } = await trpc.jobs.list.query({ conversationId });
      expect(items.map((j) => j.id)).toEqual(ids);
      expect(nextCursor).toBeNull();
    });

    it("lists the newest first with order newest, its cursor going on in that order", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const jobs = await trpc.jobs.submitMany.mutate({
        jobs: Array.from({ length: 5 }, (_, i) => ({ prompt: uniquePrompt(`ordered ${i}`), conversationId, ...quick })),
      });
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await trpc.jobs.list.query({
          conversationId,
          order: "newest",
          limit: 2,
          ...(cursor ? { cursor } : {}),
        });
        seen.push(...page.items.map((job) => job.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      expect(seen).toEqual(jobs.map((job) => job.id).reverse());
      const wrong = await trpcError(trpc.jobs.list.query({ order: "latest" } as unknown as { order: "newest" }));
      expect(codeOf(wrong)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(wrong.message).toContain("order must be oldest or newest");
    });

    it("answers gzipped to a client that takes gzip, the same jobs once unzipped", async () => {
      const { trpc, url } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const jobs = await trpc.jobs.submitMany.mutate({
        jobs: Array.from({ length: 5 }, (_, i) => ({ prompt: uniquePrompt(`listed ${i}`), conversationId, ...quick })),
      });
      // Finished, so that the two answers below cannot differ by a job's progress or estimate between them.
      for (const job of jobs) await waitForStatus(trpc, job.id, "complete");
      const path = `${url}/trpc/jobs.list?input=${encodeURIComponent(JSON.stringify({ conversationId }))}`;
      const [zipped, plain] = await Promise.all([
        fetch(path, { headers: { "accept-encoding": "gzip" } }),
        fetch(path, { headers: { "accept-encoding": "identity" } }),
      ]);
      expect(zipped.headers.get("content-encoding")).toBe("gzip");
      expect(plain.headers.get("content-encoding")).toBeNull();
      // A cache in between must not hand the gzipped bytes to a client that did not ask for them; tRPC's own names stay.
      expect(zipped.headers.get("vary")?.split(/\s*,\s*/)).toEqual(
        expect.arrayContaining(["accept-encoding", "accept"]),
      );
      // fetch unzips: the same answer either way.
      expect(await zipped.json()).toEqual(await plain.json());
    });

    it("returns only the jobs of the conversation given", async () => {
      const { trpc } = server();
      const mine = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("mine"), ...quick });
      await trpc.jobs.submit.mutate({ prompt: uniquePrompt("someone else's"), ...quick });
      const { items } = await trpc.jobs.list.query({ conversationId: mine.conversationId });
      expect(items.map((j) => j.id)).toEqual([mine.id]);
    });

    it("returns only the jobs in the statuses given", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const done = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("fine"), conversationId, ...quick });
      const failed = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("sim:oom"), conversationId, ...quick });
      await waitForStatus(trpc, done.id, "complete");
      await waitForStatus(trpc, failed.id, "error");
      await occupyGpu(server(), conversationId);
      const waiting = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("waiting"), conversationId, ...quick });

      const ids = async (status: ("queued" | "processing" | "complete" | "error" | "cancelled")[]) =>
        (await trpc.jobs.list.query({ conversationId, status })).items.map((j) => j.id);
      expect(await ids(["error"])).toEqual([failed.id]);
      expect(await ids(["complete", "queued"])).toEqual([done.id, waiting.id]);
      expect(await ids(["cancelled"])).toEqual([]);
    });

    it("pages through every job with limit and cursor, oldest first, until nextCursor is null", async () => {
      const { trpc } = server();
      const { id: conversationId } = await trpc.conversations.create.mutate({});
      const ids = [];
      for (let i = 0; i < 5; i++) {
        ids.push((await trpc.jobs.submit.mutate({ prompt: uniquePrompt(`page ${i}`), conversationId, ...quick })).id);
      }
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await trpc.jobs.list.query({ conversationId, limit: 2, ...(cursor ? { cursor } : {}) });
        pages.push(page.items.map((j) => j.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor && pages.length < 10);
      expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4)]);
    });
  });

  describe("queue.status", () => {
    it("counts queued and processing jobs and shows the busy backend with its job", async () => {
      const { trpc, simulator } = server();
      const blocker = await occupyGpu(server());
      await trpc.jobs.submit.mutate({ prompt: uniquePrompt("second"), ...quick });
      await trpc.jobs.submit.mutate({ prompt: uniquePrompt("third"), ...quick });
      expect(await trpc.queue.status.query()).toMatchObject({
        queued: 2,
        processing: 1,
        backends: [{ url: simulator.url, busy: true, jobId: blocker.id }],
      });
    });

    it("shows an idle backend when nothing runs", async () => {
      const { trpc, simulator } = server();
      expect(await trpc.queue.status.query()).toMatchObject({
        queued: 0,
        processing: 0,
        backends: [{ url: simulator.url, busy: false, jobId: null }],
      });
    });
  });

  describe("checkpoints.list", () => {
    it("lists the checkpoints the backend can load", async () => {
      const checkpoints = await server().trpc.checkpoints.list.query();
      expect(checkpoints.map((c) => c.name)).toEqual(
        expect.arrayContaining(["flux1-dev", "flux1-schnell", "sdxl-base-1.0"]),
      );
      for (const checkpoint of checkpoints) expect(checkpoint.title).toContain(checkpoint.name);
    });
  });
});

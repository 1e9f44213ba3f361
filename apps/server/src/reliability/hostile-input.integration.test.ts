import { randomUUID } from "node:crypto";
import type { Job } from "@anvil/job-machine";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { anyValue } from "../testing/arbitraries";
import { wsClient } from "../testing/clients";
import { occupyGpu, quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { waitForStatus } from "../testing/wait";
import { subscribeAttached } from "./support/attached";

/** Markup, script, control characters, quotes, bidi overrides, template syntax: all of it is just text to Anvil. */
const HOSTILE_PROMPTS = [
  `<img src=x onerror=alert(1)>\u0007\t"'`,
  `</script><script>alert(document.cookie)</script>\r\n\u001b[31mred\u001b[0m\b\f\v`,
  `\u202egnp.exe\u202c {{constructor.constructor('alert(1)')()}} \${7*7} %s%n <!-- -->`,
  `"; DROP TABLE jobs; -- \\u0000 \\n \\" 👩‍💻 e\u0301 \u0085\u2028\u2029 \u007f`,
];

describe.each(testDrivers())("hostile input on $kind", (driver) => {
  // A long job timeout: the blocker below must hold the GPU for the whole property run.
  const server = useTestServer(driver, { jobTimeoutMs: 120_000 });
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("stores a prompt with markup and control characters and returns it verbatim from jobs.get, jobs.list, messages.list and jobs.events", async () => {
    const { trpc, anvil, simulator, url } = server();
    const { id: conversationId } = await trpc.conversations.create.mutate({ title: HOSTILE_PROMPTS[0] });
    const ws = wsClient(url);
    cleanups.push(() => ws.close());
    const overSse = await subscribeAttached(anvil.events, trpc, { conversationId });
    cleanups.push(() => overSse.stop());
    const overWs = await subscribeAttached(anvil.events, ws.client, { conversationId });
    cleanups.push(() => overWs.stop());

    const jobs: Job[] = [];
    for (const prompt of HOSTILE_PROMPTS) {
      const job = await trpc.jobs.submit.mutate({ prompt, negativePrompt: prompt, conversationId, ...quick });
      expect(job.prompt).toBe(prompt);
      jobs.push(job);
    }
    for (const job of jobs) await waitForStatus(trpc, job.id, "complete");

    const { items } = await trpc.jobs.list.query({ conversationId });
    const messages = await trpc.messages.list.query({ conversationId });
    for (const [i, prompt] of HOSTILE_PROMPTS.entries()) {
      const job = jobs[i]!;
      const got = await trpc.jobs.get.query({ jobId: job.id });
      expect([got.prompt, got.params.negativePrompt]).toEqual([prompt, prompt]);
      expect(items.find((item) => item.id === job.id)?.prompt).toBe(prompt);
      const user = messages.filter((m) => m.role === "user")[i];
      expect(user?.content).toBe(prompt);
      expect(messages.find((m) => m.id === job.messageId)?.metadata["prompt"]).toBe(prompt);
      // Forge got it as it was typed, too.
      expect(simulator.stats().log.some((entry) => entry.prompt === prompt)).toBe(true);
    }
    for (const subscription of [overSse, overWs]) {
      await subscription.until(
        (events) => jobs.every((job) => events.some((e) => e.job.id === job.id && e.job.status === "complete")),
        "every job is announced complete",
      );
      for (const event of subscription.events) {
        expect(event.job.prompt).toBe(HOSTILE_PROMPTS[jobs.findIndex((job) => job.id === event.job.id)]);
      }
    }
    expect((await trpc.conversations.list.query()).find((c) => c.id === conversationId)?.title).toBe(
      HOSTILE_PROMPTS[0],
    );

    // On the wire it is JSON text, escaped as JSON, never markup a browser would render.
    const response = await fetch(
      `${url}/trpc/jobs.get?input=${encodeURIComponent(JSON.stringify({ jobId: jobs[0]!.id }))}`,
    );
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await response.text();
    expect(body).toContain(JSON.stringify(HOSTILE_PROMPTS[0]).slice(1, -1));
    expect((JSON.parse(body) as { result: { data: { prompt: string } } }).result.data.prompt).toBe(HOSTILE_PROMPTS[0]);
  });

  describe("a rejected call", () => {
    const longText = (n: number) => "a".repeat(n);
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("", " \t\n", "\u0000", "\ud800", "<b>x</b>", "'; drop table jobs; --", longText(4001)),
    );
    const junk = anyValue(text);
    const valid = { prompt: "a lighthouse at dusk", ...quick };
    const submitFields = [
      "prompt",
      "negativePrompt",
      "width",
      "height",
      "steps",
      "cfgScale",
      "seed",
      "sampler",
      "checkpoint",
      "conversationId",
      "idempotencyKey",
    ] as const;

    /** One call: a mutation with a JSON (or raw) body, or a query. */
    type Call = { kind: "mutation" | "query"; path: string; body: string };
    const mutation = (path: string, input: unknown): Call => ({ kind: "mutation", path, body: JSON.stringify(input) });

    /** Mostly valid input with one field broken (or one surprising value), and the ids the server knows. */
    const calls = (known: { conversationId: string; finishedJobId: string }) =>
      fc.oneof(
        fc
          .tuple(
            fc.constantFrom(...submitFields),
            fc.oneof(junk, fc.constantFrom(known.conversationId, randomUUID(), "no-such-model", 4294967296)),
          )
          .map(([field, value]) =>
            mutation("jobs.submit", { ...valid, conversationId: known.conversationId, [field]: value }),
          ),
        fc
          .oneof(junk, fc.constantFrom(known.finishedJobId, randomUUID()))
          .map((jobId) => mutation("jobs.cancel", { jobId })),
        junk.map((title) => mutation("conversations.create", { title })),
        fc
          .tuple(fc.constantFrom("jobs.submit", "jobs.cancel", "conversations.create"), fc.string({ maxLength: 40 }))
          .map(([path, body]): Call => ({ kind: "mutation", path, body })),
        fc
          .tuple(fc.constantFrom("jobs.submit", "jobs.cancel"), junk)
          .map(([path, input]): Call => ({ kind: "query", path, body: JSON.stringify(input) ?? "" })),
      );

    it("changes nothing: no job, conversation, message or event appears, and no job moves", async () => {
      const { trpc, anvil, url } = server();
      const finished = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("already done"), ...quick });
      await waitForStatus(trpc, finished.id, "complete");
      const { conversationId } = finished;
      // Hold the GPU, so that accepted jobs wait and nothing changes between two reads but what a call did.
      await occupyGpu(server(), conversationId);
      const { store } = anvil;
      const state = async () => ({
        jobs: (await store.listJobs({ limit: 500 })).items.map((job) => ({ ...job })),
        conversations: await store.listConversations(),
        messages: await store.listMessages(conversationId),
        latestEventId: await store.latestEventId(),
      });

      let rejected = 0;
      await fc.assert(
        fc.asyncProperty(calls({ conversationId, finishedJobId: finished.id }), async (call) => {
          const before = await state();
          const response =
            call.kind === "mutation"
              ? await fetch(`${url}/trpc/${call.path}`, {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body: call.body,
                })
              : await fetch(`${url}/trpc/${call.path}?input=${encodeURIComponent(call.body)}`);
          const answer = await response.text();
          expect(response.status, answer).toBeLessThan(500);
          if (response.status < 400) return;
          rejected++;
          expect(await state(), `${call.path} ${call.body} → ${response.status} ${answer}`).toEqual(before);
        }),
        { numRuns: 100 },
      );
      // Most calls were refused, and so were checked.
      expect(rejected).toBeGreaterThan(50);
      // 100 calls, each between two full reads of the store: on a loaded 2-core CI machine that takes more than 20 s.
    }, 120_000);
  });
});

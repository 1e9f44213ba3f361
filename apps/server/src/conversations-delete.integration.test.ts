import { existsSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { codeOf, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitFor, waitForStatus } from "./testing/wait";

describe.each(testDrivers())("conversations.delete on $kind", (driver) => {
  const server = useTestServer(driver);

  it("deletes a conversation with its messages, jobs and images, interrupting the one still running", async () => {
    const { trpc, simulator, url, dataDir } = server();
    const { id: conversationId } = await trpc.conversations.create.mutate({ title: "to be deleted" });
    const done = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("made first"), conversationId, ...quick });
    await waitForStatus(trpc, done.id, "complete");
    expect((await fetch(`${url}/images/${done.id}.png`)).status).toBe(200);
    const running = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("still running sim:hang"), conversationId });
    await waitForStatus(trpc, running.id, "processing");
    await waitFor(() => simulator.stats().active === 1, "the generation runs on the simulator");
    const waiting = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("still waiting"), conversationId, ...quick });
    const interruptedBefore = simulator.stats().interrupted;

    expect(await trpc.conversations.delete.mutate({ conversationId })).toEqual({ id: conversationId });

    await waitFor(() => simulator.stats().interrupted === interruptedBefore + 1, "the running job is interrupted");
    expect(simulator.stats().log.map((entry) => entry.prompt)).not.toContain(waiting.prompt);
    expect((await trpc.conversations.list.query()).map((c) => c.id)).not.toContain(conversationId);
    for (const job of [done, running, waiting]) {
      expect(codeOf(await trpcError(trpc.jobs.get.query({ jobId: job.id }))).code).toBe("NOT_FOUND");
    }
    expect(codeOf(await trpcError(trpc.messages.list.query({ conversationId }))).code).toBe("NOT_FOUND");
    expect((await fetch(`${url}/images/${done.id}.png`)).status).toBe(404);
    if (driver.kind === "pglite") expect(existsSync(join(dataDir, "images", `${done.id}.png`))).toBe(false);
    // The GPU goes on with other conversations' jobs.
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after the deletion"), ...quick });
    await waitForStatus(trpc, next.id, "complete");
    // It is gone: deleting it again, or submitting into it, finds no such conversation.
    expect(codeOf(await trpcError(trpc.conversations.delete.mutate({ conversationId }))).code).toBe("NOT_FOUND");
    const late = await trpcError(trpc.jobs.submit.mutate({ prompt: "late", conversationId, ...quick }));
    expect(codeOf(late).code).toBe("NOT_FOUND");
  });

  it("is NOT_FOUND for a conversation that does not exist, and 400 for an id that is not one", async () => {
    const { trpc } = server();
    expect(codeOf(await trpcError(trpc.conversations.delete.mutate({ conversationId: randomUUID() }))).code).toBe(
      "NOT_FOUND",
    );
    expect(codeOf(await trpcError(trpc.conversations.delete.mutate({ conversationId: "abc" }))).code).toBe(
      "BAD_REQUEST",
    );
  });
});

import { describe, expect, it } from "vitest";
import { createAnvilClient } from "./create-client";
import { ADMIN_TOKEN, useAnvilServer } from "./testing/anvil-server";

const quick = { steps: 4, width: 64, height: 64 };

describe("watch and wait against a server that refuses the token", { timeout: 30_000 }, () => {
  const url = useAnvilServer();

  it("fails a watch with UNAUTHORIZED instead of reopening for ever when the token is wrong", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const job = await admin.jobs.submit.mutate({ prompt: "a watch with a wrong token", ...quick });
    const stranger = createAnvilClient({ url: url(), token: "not-a-token-of-anyone" });
    const watching = (async () => {
      for await (const _ of stranger.watch(job.id)) {
        // Nothing comes: the stream is refused.
      }
    })();
    await expect(watching).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
  });

  it("stops waiting when asked without reporting a reconnect that never happened", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const job = await admin.jobs.submit.mutate({ prompt: "waits until the caller gives up", ...quick });
      const stop = new AbortController();
      const reconnects: unknown[] = [];
      let seen = 0;
      const waiting = admin.wait(job.id, {
        signal: stop.signal,
        onUpdate: () => seen++,
        onReconnect: (error) => reconnects.push(error),
      });
      await expect.poll(() => seen).toBeGreaterThan(0);
      stop.abort();
      await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
      expect(reconnects).toEqual([]);
      // Leaving a watch's loop early is no drop either.
      const watched = admin.watch(job.id, { onReconnect: (error) => reconnects.push(error) });
      for await (const update of watched) {
        expect(update.status).toBe("queued");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(reconnects).toEqual([]);
      await admin.jobs.cancel.mutate({ jobId: job.id });
    } finally {
      await admin.queue.resume.mutate();
    }
  });

  it("fails a wait with UNAUTHORIZED when an admin removes the waiting user", async () => {
    const admin = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    await admin.queue.pause.mutate();
    try {
      const user = await admin.users.create.mutate({ name: "removed-mid-wait", admin: false });
      const client = createAnvilClient({ url: url(), token: user.token });
      const job = await client.jobs.submit.mutate({ prompt: "waits on a paused queue", ...quick });
      let seen = 0;
      const waiting = client.wait(job.id, { onUpdate: () => seen++ });
      await expect.poll(() => seen).toBeGreaterThan(0);
      await admin.users.remove.mutate({ name: user.name });
      await expect(waiting).rejects.toMatchObject({ data: { code: "UNAUTHORIZED" } });
    } finally {
      await admin.queue.resume.mutate();
    }
  });
});

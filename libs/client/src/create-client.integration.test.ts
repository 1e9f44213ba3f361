import { describe, expect, it } from "vitest";
import { createAnvilClient } from "./create-client";
import { ADMIN_TOKEN, useAnvilServer } from "./testing/anvil-server";

describe("createAnvilClient against a live server", { timeout: 60_000 }, () => {
  const url = useAnvilServer();

  it("sends concurrent submits of long prompts each alone, so none is refused for a batch over the body limit", async () => {
    const client = createAnvilClient({ url: url(), token: ADMIN_TOKEN });
    const admin = client;
    await admin.queue.pause.mutate();
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) =>
          client.jobs.submit.mutate({
            prompt: `long prompt ${i} ${"p".repeat(3_950)}`,
            negativePrompt: "n".repeat(3_000),
            steps: 4,
            width: 64,
            height: 64,
          }),
        ),
      );
      const refused = results.flatMap((r) => (r.status === "rejected" ? [String(r.reason)] : []));
      expect(refused).toEqual([]);
      const made = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
      await Promise.all(made.map((job) => client.jobs.cancel.mutate({ jobId: job.id })));
    } finally {
      await admin.queue.resume.mutate();
    }
  });

  it("takes a url that ends in /trpc as the server's", async () => {
    const client = createAnvilClient({ url: `${url()}/trpc/`, token: ADMIN_TOKEN });
    await expect(client.queue.status.query()).resolves.toMatchObject({ paused: false });
  });

  it("says why an image is refused, in the server's words, not only its status", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    const job = { id, imageUrl: `/images/${id}.png` };
    await expect(createAnvilClient({ url: url(), token: ADMIN_TOKEN }).image(job)).rejects.toThrow(
      `GET /images/${id}.png answered 404: No such image: /images/${id}.png`,
    );
    await expect(createAnvilClient({ url: url() }).image(job)).rejects.toThrow(
      `GET /images/${id}.png answered 401: Unauthorized: send Authorization: Bearer <token>`,
    );
  });
});

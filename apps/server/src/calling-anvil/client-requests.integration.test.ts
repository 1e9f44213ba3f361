import { createAnvilClient } from "@anvil/client";
import { describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { useTestServer } from "../testing/test-server";
import { assertClientBuilt } from "./packed-client";

describe("@anvil/client's requests", () => {
  const server = useTestServer(testDrivers()[0]!);

  it("lists full pages at once: each jobs.list goes in a request of its own, within the server's bound", async () => {
    assertClientBuilt();
    const client = createAnvilClient({ url: server().url });
    // Batched together, three pages of 500 asked one request for 1,500 jobs, which the server refuses.
    const pages = await Promise.all([1, 2, 3].map(() => client.jobs.list.query({ limit: 500 })));
    expect(pages.every((page) => Array.isArray(page.items))).toBe(true);
  });

  it("sends a jobs.submitMany alone, so that long prompts fit, beside other calls", async () => {
    const client = createAnvilClient({ url: server().url });
    const jobs = Array.from({ length: 70 }, (_, i) => ({
      prompt: `${uniquePrompt(`client bulk ${i}`)} ${"b".repeat(3_900)}`,
      ...quick,
    }));
    const [made, status] = await Promise.all([client.jobs.submitMany.mutate({ jobs }), client.queue.status.query()]);
    expect(made).toHaveLength(70);
    expect(status.paused).toBe(false);
    await Promise.all(made.map((job) => client.jobs.cancel.mutate({ jobId: job.id }).catch(() => undefined)));
  });
});

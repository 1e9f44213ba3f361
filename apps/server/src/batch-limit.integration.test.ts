import { describe, expect, it } from "vitest";
import { MAX_BATCH_CALLS } from "@anvil/api";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

describe("tRPC batches", () => {
  const [pglite] = testDrivers();
  const server = useTestServer(pglite!);
  const submits = (calls: number, prompt: string) =>
    fetch(`${server().url}/trpc/${Array.from({ length: calls }, () => "jobs.submit").join(",")}?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(
        Object.fromEntries(Array.from({ length: calls }, (_, i) => [i, { prompt: `${prompt} ${i}`, steps: 1 }])),
      ),
    });
  const stored = async (prompt: string) =>
    (await server().trpc.jobs.list.query({ limit: 500 })).items.filter((job) => job.prompt.startsWith(prompt)).length;

  it("refuses a batch of more calls than the server takes, with a 400, and runs none of them", async () => {
    const reply = await submits(MAX_BATCH_CALLS + 1, "oversized batch");
    expect(reply.status).toBe(400);
    expect(reply.headers.get("content-type")).toBe("application/json");
    // One error for the whole batch, not one per call.
    const { error } = (await reply.json()) as { error: { message: string } };
    expect(error.message).toBe(`A batch may hold at most ${MAX_BATCH_CALLS} calls: send the rest in another request`);
    expect(await stored("oversized batch")).toBe(0);
  });

  it("refuses a batch of queries and mutations together, saying how to send them, in JSON", async () => {
    const reply = await fetch(`${server().url}/trpc/jobs.submit,queue.status?batch=1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ 0: { prompt: "mixed batch", steps: 1 } }),
    });
    expect(reply.status).toBe(400);
    expect(reply.headers.get("content-type")).toBe("application/json");
    const { error } = (await reply.json()) as { error: { message: string } };
    expect(error.message).toBe(
      "A batch holds queries or mutations, not both: send the mutations (POST) in one request and the queries (GET) " +
        "in another",
    );
    expect(await stored("mixed batch")).toBe(0);
  });

  it("takes a batch of as many calls as the server takes", async () => {
    const reply = await submits(MAX_BATCH_CALLS, "full batch");
    expect(reply.status).toBe(200);
    expect(await stored("full batch")).toBe(MAX_BATCH_CALLS);
  });
});

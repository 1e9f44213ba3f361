import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient, openStream, openSubscribedSocket } from "../reliability/support/authorized-clients";
import { startInProcess, useInProcessCluster } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(testDrivers())("a removed user's open streams on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;
  let admin: AnvilClient;

  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database, { apiToken: TOKEN, inspect: "on" });
    admin = authorizedHttpClient(running.url, bearer(TOKEN));
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("ends every SSE stream the user had open, whatever it watched, and refuses the reconnect", async () => {
    const { token } = await admin.users.create.mutate({ name: "leaving", admin: true });
    const leaving = authorizedHttpClient(running.url, bearer(token));
    const job = await leaving.jobs.submit.mutate({ prompt: uniquePrompt("left"), ...quick });
    await waitForStatus(leaving, job.id, "complete");
    const headers = bearer(token);
    const before = running.anvil.events.subscribers;
    const streams = {
      all: await openStream(running.url, "jobs.events", {}, headers),
      job: await openStream(running.url, "jobs.events", { jobId: job.id }, headers),
      conversation: await openStream(running.url, "jobs.events", { conversationId: job.conversationId }, headers),
      resumed: await openStream(running.url, "jobs.events", { lastEventId: "0" }, headers),
      conversations: await openStream(running.url, "conversations.events", {}, headers),
      inspect: await openStream(running.url, "debug.inspect", {}, headers),
    };
    try {
      // The inspector's stream listens as the server's own (not counted among subscribers): it has sent the ring.
      await waitFor(
        () => running.anvil.events.subscribers >= before + 5 && streams.inspect.text.includes('"seq"'),
        "every stream listens",
      );
      expect(Object.values(streams).some((stream) => stream.ended)).toBe(false);
      await admin.users.remove.mutate({ name: "leaving" });
      for (const [name, stream] of Object.entries(streams)) {
        await waitFor(() => stream.ended, `the ${name} stream ends`);
      }
      expect((await fetch(`${running.url}/trpc/jobs.events`, { headers })).status).toBe(401);
    } finally {
      for (const stream of Object.values(streams)) stream.close();
    }
  });
});

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("a removed user's open streams through a follower", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!, { apiToken: TOKEN });

  it("ends the SSE streams and WebSockets a removed user opened through the follower", async () => {
    const follower = cluster.follower();
    const admin = authorizedHttpClient(follower.url, bearer(TOKEN));
    const { token } = await admin.users.create.mutate({ name: "gone" });
    const headers = bearer(token);
    const leader = cluster.leader();
    const before = leader.anvil.events.subscribers;
    const sse = await openStream(follower.url, "jobs.events", {}, headers);
    const ws = await openSubscribedSocket(follower.url, headers);
    try {
      await waitFor(() => leader.anvil.events.subscribers >= before + 2, "both streams listen on the leader");
      await admin.users.remove.mutate({ name: "gone" });
      await waitFor(() => sse.ended, "the SSE stream through the follower ends");
      await waitFor(() => leader.anvil.events.subscribers <= before, "the leader holds nothing of the user open");
      expect((await fetch(`${follower.url}/trpc/me`, { headers })).status).toBe(401);
      await waitFor(() => ws.closed, "the WebSocket through the follower closes");
    } finally {
      sse.close();
      ws.socket.terminate();
    }
  });
});

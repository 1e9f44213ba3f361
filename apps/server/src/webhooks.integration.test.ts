import { hostname } from "node:os";
import { signWebhook } from "@anvil/api";
import type { Job } from "@anvil/job-machine";
import { afterEach, describe, expect, it } from "vitest";
import { codeOf, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { scrape, valueOf } from "./testing/prometheus";
import { testDrivers } from "./testing/test-databases";
import { startTestServer, useTestServer } from "./testing/test-server";
import type { TestServer } from "./testing/test-server";
import type { TestDatabase } from "./testing/test-databases";
import { waitFor, waitForStatus } from "./testing/wait";
import { startReceiver } from "./testing/webhook-receiver";
import { guardedFetch } from "./webhook-fetch";
import type { ForbiddenReceiver } from "./webhook-fetch";
import type { WebhookReceiver } from "./testing/webhook-receiver";

const SECRET = "a webhook secret for the tests";

describe.each(testDrivers())("webhooks on $kind", (driver) => {
  // Retries after ~50 ms, 100 ms, 200 ms …: the production schedule, shortened.
  const server = useTestServer(driver, { webhooks: { secret: SECRET, retryMs: 50, pollMs: 50 } });
  const receivers: WebhookReceiver[] = [];
  afterEach(async () => {
    for (const receiver of receivers.splice(0)) await receiver.close();
  });
  const receiver = async () => {
    const started = await startReceiver();
    receivers.push(started);
    return started;
  };
  const attempts = async (outcome: string) =>
    valueOf(await scrape(server().url), "anvil_webhook_attempts_total", { outcome });

  it("retries a receiver that fails twice with the same event id and a valid signature, then delivers once", async () => {
    const { trpc, url } = server();
    const hook = await receiver();
    hook.answer = (count) => (count <= 2 ? 500 : 204);
    const before = await attempts("retrying");
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("hooked"), ...quick, callbackUrl: hook.url });
    expect(job.callbackUrl).toBe(hook.url);
    const done = await waitForStatus(trpc, job.id, "complete");
    await waitFor(() => hook.received.length === 3, "the third attempt arrives");
    expect(new Set(hook.received.map((post) => post.eventId)).size).toBe(1);
    for (const post of hook.received) {
      expect(post.contentType).toBe("application/json");
      expect(post.signature).toBe(signWebhook(SECRET, post.body));
      expect(JSON.parse(post.body) as Job).toEqual({ ...done, queuePosition: 0 });
    }
    expect(await attempts("retrying")).toBe(before + 2);
    await waitFor(
      async () => (await scrape(url)).some((s) => s.name === "anvil_webhook_pending" && s.value === 0),
      "nothing is pending",
    );
    expect(hook.received).toHaveLength(3);
  });

  it("delivers to a receiver that was down for a while once it is up again, for every final state", async () => {
    const { trpc } = server();
    const hook = await receiver();
    await hook.close();
    const before = await attempts("retrying");
    const failed = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("down sim:oom"),
      ...quick,
      callbackUrl: hook.url,
    });
    await waitForStatus(trpc, failed.id, "error");
    await waitFor(async () => (await attempts("retrying")) >= before + 3, "three attempts failed", 15_000);
    expect(hook.received).toEqual([]);
    await hook.open();
    await waitFor(() => hook.received.length === 1, "the delivery arrives once the receiver is up", 15_000);
    expect(JSON.parse(hook.received[0]!.body)).toMatchObject({ id: failed.id, status: "error" });
  });

  it("calls back about a retried job too, at the URL its first attempt was submitted with", async () => {
    const { trpc } = server();
    const hook = await receiver();
    const failed = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("again sim:oom"),
      ...quick,
      callbackUrl: hook.url,
    });
    await waitForStatus(trpc, failed.id, "error");
    await waitFor(() => hook.received.length === 1, "the first job's webhook arrives");
    const retried = await trpc.jobs.retry.mutate({ jobId: failed.id });
    expect(retried.callbackUrl).toBe(hook.url);
    await waitForStatus(trpc, retried.id, "error");
    await waitFor(() => hook.received.length === 2, "the retried job's webhook arrives");
    expect(JSON.parse(hook.received[1]!.body) as Job).toMatchObject({ id: retried.id, status: "error" });
  });

  it("still tells the receiver of a job whose conversation was deleted as it ran: cancelled", async () => {
    const { trpc } = server();
    const hook = await receiver();
    const { id: conversationId } = await trpc.conversations.create.mutate({});
    const job = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("deleted as it runs sim:hang"),
      conversationId,
      callbackUrl: hook.url,
    });
    await waitForStatus(trpc, job.id, "processing");
    await trpc.conversations.delete.mutate({ conversationId });
    await waitFor(() => hook.received.length === 1, "the cancellation's webhook arrives");
    expect(JSON.parse(hook.received[0]!.body) as Job).toMatchObject({ id: job.id, status: "cancelled" });
    expect(codeOf(await trpcError(trpc.jobs.get.query({ jobId: job.id }))).code).toBe("NOT_FOUND");
  });

  it("refuses a callbackUrl that is not http(s), carries credentials or points at this server itself", async () => {
    const { trpc, anvil } = server();
    for (const callbackUrl of [
      "ftp://example.com/hook",
      "not a url",
      `http://127.0.0.1:${anvil.port}/trpc/jobs.submit`,
      `http://localhost:${anvil.port}/`,
      `http://localhost.:${anvil.port}/`,
      `http://[::ffff:127.0.0.1]:${anvil.port}/`,
      `http://[::ffff:7f00:1]:${anvil.port}/`,
      `http://[0:0:0:0:0:0:0:1]:${anvil.port}/`,
      `http://${hostname()}:${anvil.port}/`,
      `http://${hostname().toUpperCase()}.:${anvil.port}/`,
      "http://user:secret@example.com/hook",
    ]) {
      const error = await trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("self"), ...quick, callbackUrl }));
      expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("callbackUrl");
    }
  });

  it("refuses a callbackUrl that points at a cloud's metadata service: its answers carry the machine's credentials", async () => {
    const { trpc } = server();
    for (const callbackUrl of [
      "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      "http://0xa9fea9fe/",
      "http://[fe80::1]:8080/",
    ]) {
      const error = await trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("hook"), ...quick, callbackUrl }));
      expect(codeOf(error), callbackUrl).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("callbackUrl must not point at a link-local address");
    }
  });

  it("refuses a callbackUrl that points at a Forge backend: whoever submits would drive the GPU outside the line", async () => {
    const { trpc, simulator } = server();
    const backend = new URL(simulator.url);
    for (const callbackUrl of [
      `${simulator.url}/sdapi/v1/interrupt`,
      `http://localhost:${backend.port}/sdapi/v1/txt2img`,
      `http://${hostname()}:${backend.port}/`,
    ]) {
      const error = await trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("hook"), ...quick, callbackUrl }));
      expect(codeOf(error), callbackUrl).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("callbackUrl must not point at a Forge backend of this Anvil");
    }
  });
});

describe("a callbackUrl that is this server's CLUSTER_URL", () => {
  // The address the cluster's other servers reach this one at, through a port mapped in front of its own PORT.
  const clusterUrl = "http://anvil-1.cluster.example:18080";
  const server = useTestServer(testDrivers()[0]!, { clusterUrl });

  it("is refused at submit, though its port is not the one this server listens on", async () => {
    const { trpc, anvil } = server();
    expect(anvil.port).not.toBe(18080);
    for (const callbackUrl of [`${clusterUrl}/hook`, "https://ANVIL-1.cluster.example.:18080/"]) {
      const error = await trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("own"), ...quick, callbackUrl }));
      expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("callbackUrl must not point at this Anvil server itself");
    }
    // Another port of that host is another service.
    const other = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("other port"),
      ...quick,
      callbackUrl: "http://anvil-1.cluster.example:18081/hook",
    });
    expect(other.callbackUrl).toBe("http://anvil-1.cluster.example:18081/hook");
  });
});

describe.each(testDrivers())("a webhook whose callbackUrl reaches another Anvil server, on $kind", (driver) => {
  const server = useTestServer(driver, { webhooks: { retryMs: 50, pollMs: 50 } });
  let peer: TestServer | undefined;
  let peerDatabase: TestDatabase | undefined;
  afterEach(async () => {
    await peer?.anvil.close();
    await peerDatabase?.dispose();
  });

  it("is refused there unread, and given up at its first attempt", async () => {
    // Another server of a cluster, say: the submitting server cannot tell its addresses from any other's. Nobody
    // signs in there, so a call that reached its API would act as the admin `local`.
    peerDatabase = await driver.create();
    peer = await startTestServer(peerDatabase);
    const { trpc, url } = server();
    const count = async (outcome: string) => valueOf(await scrape(url), "anvil_webhook_attempts_total", { outcome });
    const [givenUp, retrying] = [await count("given-up"), await count("retrying")];
    const job = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("to a peer"),
      ...quick,
      callbackUrl: `${peer.url}/trpc/queue.pause`,
    });
    await waitForStatus(trpc, job.id, "complete");
    await waitFor(async () => (await count("given-up")) === givenUp + 1, "the delivery is given up");
    expect(await count("retrying")).toBe(retrying);
    expect((await peer.trpc.queue.status.query()).paused).toBe(false);
    const answer = await fetch(`${peer.url}/trpc/queue.pause`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-anvil-event-id": "1.0" },
      body: "{}",
    });
    expect(answer.status).toBe(403);
    expect(await answer.text()).toContain("a webhook's callbackUrl must not point at one");
  });
});

describe.each(testDrivers())("a webhook whose receiver is refused as it connects, on $kind", (driver) => {
  // The receiver is allowed by its URL and refused by its address, as a DNS name that points at a backend would be.
  const forbidden: ForbiddenReceiver[] = [];
  const server = useTestServer(driver, {
    webhooks: { retryMs: 50, pollMs: 50, fetch: guardedFetch(() => forbidden) },
  });
  let hook: WebhookReceiver | undefined;
  afterEach(async () => {
    await hook?.close();
  });

  it("is given up at its first attempt, not retried for a day, and the job is not touched", async () => {
    const { trpc, url } = server();
    hook = await startReceiver();
    forbidden.push({ url: `http://127.0.0.1:${hook.port}`, what: "a backend, as the test says" });
    const count = async (outcome: string) => valueOf(await scrape(url), "anvil_webhook_attempts_total", { outcome });
    const [givenUp, retrying] = [await count("given-up"), await count("retrying")];
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("refused"), ...quick, callbackUrl: hook.url });
    await waitForStatus(trpc, job.id, "complete");
    await waitFor(async () => (await count("given-up")) === givenUp + 1, "the delivery is given up");
    expect(await count("retrying")).toBe(retrying);
    expect(hook.received).toEqual([]);
  });
});

import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import { pause, waitFor, waitForJob } from "../testing/wait";
import { uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase, TestDriver } from "../testing/test-databases";
import { startReceiver } from "../testing/webhook-receiver";
import type { WebhookReceiver } from "../testing/webhook-receiver";
import { spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

const quick = { width: 64, height: 64, steps: 1 } as const;
const drivers = testDrivers();
const pglite = drivers.find((driver) => driver.kind === "pglite")!;
const postgres = drivers.find((driver) => driver.kind === "postgres");

/** Built servers with pending webhook deliveries: restarted, and two of them sharing one PostgreSQL. */
describe("webhook deliveries of built servers", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(90_000);
  let simulator: ForgeSimulator;
  let receiver: WebhookReceiver;
  let database: TestDatabase;

  const setUp = async (driver: TestDriver) => {
    simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    database = await driver.create();
    cleanups.push(() => database.dispose());
  };
  const start = async (env: Record<string, string> = {}): Promise<ServerProcess> => {
    const server = await spawnServer({
      FORGE_URL: simulator.url,
      DATA_DIR: database.dataDir,
      ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl, LEASE_MS: "2000" } : {}),
      ANVIL_WEBHOOK_RETRY_MS: "500",
      ...env,
    });
    servers.push(server);
    return server;
  };
  const logged = (server: ServerProcess, msg: string) => server.logs.some((line) => line.msg === msg);

  it("delivers after kill -9 and a restart what was pending, with the same event id", async () => {
    await setUp(pglite);
    let up = false;
    receiver.answer = () => (up ? 200 : 503);
    const first = await start();
    const trpc = httpClient(first.url);
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("restart"), ...quick, callbackUrl: receiver.url });
    await waitForJob(trpc, job.id, (j) => j.status === "complete", "the job completes");
    // A failed attempt is recorded: the retry is pending in the database when the server dies.
    await waitFor(() => logged(first, "webhook delivery failed; it will be retried"), "the first attempt failed");
    await first.kill("SIGKILL");
    servers.splice(servers.indexOf(first), 1);
    const refused = receiver.received.length;
    up = true;
    await start();
    await waitFor(() => receiver.received.length > refused, "the restarted server delivers", 40_000);
    expect(new Set(receiver.received.map((post) => post.eventId)).size).toBe(1);
    expect(JSON.parse(receiver.received.at(-1)!.body)).toMatchObject({
      id: job.id,
      status: "complete",
      callbackUrl: receiver.url,
    });
    await pause(1_000);
    expect(receiver.received).toHaveLength(refused + 1);
  });

  it.skipIf(!postgres)("delivers each event once from a 2-server cluster on one PostgreSQL", async () => {
    await setUp(postgres!);
    // Retries due sooner (from 50-100 ms, doubling): every poll of either server finds some to claim, and the line
    // of retries that fail again and again (every other answer is a 500) does not back off for seconds.
    const soon = { ANVIL_WEBHOOK_RETRY_MS: "100" };
    const members = [await start(soon), await start(soon)];
    const prompts = Array.from({ length: 24 }, (_, i) => uniquePrompt(`cluster hook ${i}`));
    // Half the first attempts fail: the retries are claimed by whichever server polls first.
    receiver.answer = (count) => (count % 2 === 0 ? 500 : 200);
    const jobs: Job[] = await httpClient(members[1]!.url).jobs.submitMany.mutate({
      jobs: prompts.map((prompt) => ({ prompt, ...quick, callbackUrl: receiver.url })),
    });
    const delivered = () => receiver.received.filter((post, i) => (i + 1) % 2 === 1);
    await waitFor(
      () => new Set(delivered().map((post) => post.eventId)).size === jobs.length,
      "every job's webhook arrives",
      60_000,
    );
    // Anything a second server would send twice has had time to arrive.
    await pause(3_000);
    const byEvent = new Map<string, Set<string>>();
    for (const post of receiver.received) {
      const id = (JSON.parse(post.body) as Job).id;
      byEvent.set(post.eventId, (byEvent.get(post.eventId) ?? new Set()).add(id));
    }
    expect(byEvent.size).toBe(jobs.length);
    expect([...byEvent.values()].every((ids) => ids.size === 1)).toBe(true);
    expect(delivered()).toHaveLength(jobs.length);
    const deliverers = members.filter((member) => logged(member, "webhook delivery failed; it will be retried"));
    console.info(`webhook attempts failed on ${deliverers.length} of 2 servers`);
  });
});

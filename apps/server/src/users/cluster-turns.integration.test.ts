import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import { describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { leadsCluster as leads, spawnServer, useBuiltServers } from "../reliability/support/built-server";
import type { ServerProcess } from "../reliability/support/built-server";
import type { AnvilClient } from "../testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";

const TOKEN = "the-team-clusters-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

/**
 * A team on a 2-server cluster: fair turns and the pause hold across servers and across the leader's `kill -9`, since
 * everything the order depends on (owners, each user's last turn, the pause) is in the database before the line acts on it.
 */
describe.skipIf(!postgres)("fair turns on a cluster of built servers", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(90_000);
  let database: TestDatabase;
  let simulator: ForgeSimulator;

  const join = async (): Promise<ServerProcess> => {
    const server = await spawnServer({
      FORGE_URL: simulator.url,
      DATA_DIR: database.dataDir,
      DATABASE_URL: database.databaseUrl!,
      LEASE_MS: "2000",
      API_TOKEN: TOKEN,
    });
    servers.push(server);
    return server;
  };

  it("interleaves two users' jobs the same on every server, keeps the order over a leader's kill -9, and runs it", async () => {
    database = await postgres!.create();
    cleanups.push(() => database.dispose());
    simulator = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => simulator.close());
    const members = [await join(), await join()];
    await waitFor(() => members.some(leads), "one server leads");
    const leader = members.find(leads)!;
    const follower = members.find((member) => member !== leader)!;

    const admin = (server: ServerProcess) => authorizedHttpClient(server.url, bearer(TOKEN));
    const ann = (await admin(follower).users.create.mutate({ name: "ann" })).token;
    const bob = (await admin(leader).users.create.mutate({ name: "bob" })).token;
    const asAnn = authorizedHttpClient(leader.url, bearer(ann));
    const asBob = authorizedHttpClient(follower.url, bearer(bob));
    // Ann has been served once: that turn is in the database, and it is what puts bob first below.
    await waitForStatus(
      asAnn,
      (await asAnn.jobs.submit.mutate({ prompt: uniquePrompt("A0"), ...quick })).id,
      "complete",
    );
    await admin(follower).queue.pause.mutate();

    // Ann's three jobs through one server, then bob's one through the other: bob, never served, goes first.
    const annJobs: Job[] = [];
    for (let i = 1; i <= 3; i++)
      annJobs.push(await asAnn.jobs.submit.mutate({ prompt: uniquePrompt(`A${i}`), ...quick }));
    const bobJob = await asBob.jobs.submit.mutate({ prompt: uniquePrompt("B1"), ...quick });
    const order = [bobJob, annJobs[0]!, annJobs[1]!, annJobs[2]!];
    const positions = (client: AnvilClient, jobs: Job[]) =>
      Promise.all(jobs.map(async (job) => (await client.jobs.get.query({ jobId: job.id })).queuePosition));
    for (const server of members) expect(await positions(admin(server), order)).toEqual([1, 2, 3, 4]);

    // Each sees their own jobs only, on either server.
    const bobOnLeader = authorizedHttpClient(leader.url, bearer(bob));
    expect(codeOf(await trpcError(bobOnLeader.jobs.get.query({ jobId: annJobs[0]!.id }))).code).toBe("NOT_FOUND");
    expect((await asBob.jobs.list.query({})).items.map((job) => job.id)).toEqual([bobJob.id]);

    await leader.kill("SIGKILL");
    servers.splice(servers.indexOf(leader), 1);
    await waitFor(() => leads(follower), "the other server leads", 30_000);
    // The new leader rebuilt the same line from the database (owners, ann's last turn), still paused.
    expect(await positions(admin(follower), order)).toEqual([1, 2, 3, 4]);
    expect((await admin(follower).queue.status.query()).paused).toBe(true);

    await admin(follower).queue.resume.mutate();
    const finished: Job[] = [];
    for (const job of order) {
      const client = job.owner === "bob" ? asBob : authorizedHttpClient(follower.url, bearer(ann));
      finished.push(await waitForStatus(client, job.id, "complete"));
    }
    const started = [...finished].sort((a, b) => Date.parse(a.startedAt!) - Date.parse(b.startedAt!));
    expect(started.map((job) => job.id)).toEqual(order.map((job) => job.id));
  });
});

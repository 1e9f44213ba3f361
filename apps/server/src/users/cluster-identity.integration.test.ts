import { describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { useInProcessCluster } from "../reliability/support/in-process";
import { openApiSocket } from "../testing/api-socket";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitForStatus } from "../testing/wait";

const TOKEN = "the-clusters-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("who calls, through a follower of a 2-server cluster", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!, { apiToken: TOKEN });

  it("keeps each caller's identity through the follower, and lets no header a client sets stand in for it", async () => {
    const follower = cluster.follower();
    const admin = authorizedHttpClient(follower.url, bearer(TOKEN));
    const dan = (await admin.users.create.mutate({ name: "dan" })).token;
    const eve = (await admin.users.create.mutate({ name: "eve" })).token;
    const asDan = authorizedHttpClient(follower.url, bearer(dan));
    expect(await asDan.me.query()).toEqual({ name: "dan", admin: false });
    const job = await asDan.jobs.submit.mutate({ prompt: uniquePrompt("dan's through a follower"), ...quick });
    expect(job.owner).toBe("dan");
    await waitForStatus(asDan, job.id, "complete");

    // Eve claims to be forwarded, or to be dan, in headers a client can set: the leader goes by her token.
    const asEve = authorizedHttpClient(follower.url, { ...bearer(eve), "x-forwarded-user": "dan" });
    expect(await asEve.me.query()).toEqual({ name: "eve", admin: false });
    expect(codeOf(await trpcError(asEve.jobs.get.query({ jobId: job.id }))).code).toBe("NOT_FOUND");
    expect((await fetch(`${follower.url}/images/${job.id}.png`, { headers: bearer(eve) })).status).toBe(404);
    expect((await fetch(`${follower.url}/images/${job.id}.png`, { headers: bearer(dan) })).status).toBe(200);
    const forged = await fetch(`${follower.url}/trpc/me`, { headers: { "x-anvil-forwarded": "1" } });
    expect(forged.status).toBe(401);
  });
});

describe.skipIf(!postgres)("an admin's rights taken away in a 2-server cluster", { timeout: 120_000 }, () => {
  // No sweep of the open credentials during the test: at the default 5 s one closed the socket as well, so the test
  // passed with users.update ending nothing itself. Only the update can end it now (or the test times out).
  const cluster = useInProcessCluster(postgres!, { apiToken: TOKEN, credentialSweepMs: 600_000 });

  it("end at once on both servers, a WebSocket opened through the follower included", async () => {
    const admin = authorizedHttpClient(cluster.follower().url, bearer(TOKEN));
    const fay = (await admin.users.create.mutate({ name: "fay", admin: true })).token;
    // Through the follower: it hands the upgrade on to the leader, whose streams the update ends.
    const { socket, closed } = await openApiSocket(cluster.follower().url, fay);
    try {
      await admin.users.update.mutate({ name: "fay", admin: false });
      await closed;
    } finally {
      socket.terminate();
    }
    for (const server of cluster.servers) {
      const asFay = authorizedHttpClient(server.url, bearer(fay));
      expect(await asFay.me.query()).toEqual({ name: "fay", admin: false });
      expect(codeOf(await trpcError(asFay.users.list.query())).code).toBe("FORBIDDEN");
    }
  });
});

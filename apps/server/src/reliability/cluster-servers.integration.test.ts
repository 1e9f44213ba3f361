import { describe, expect, it } from "vitest";
import { version } from "../../package.json" with { type: "json" };
import { httpClient } from "../testing/clients";
import type { AnvilClient } from "../testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { clusterParts, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

// Short, so a server killed with -9 is gone from the list within seconds (three of its LEASE_MS unseen).
const LEASE_MS = 1_000;
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

interface Member {
  server: ServerProcess;
  trpc: AnvilClient;
}

/** Three built servers on one PostgreSQL database, sharing one simulator backend. */
describe.skipIf(!postgres)("cluster.servers on a cluster of built servers", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(60_000);

  it("lists every server from each, the same leader; a SIGTERM removes one at once, a kill -9 within 3 × LEASE_MS; a follower is no callbackUrl", async () => {
    const { env } = await clusterParts(postgres!, cleanups, { env: { LEASE_MS: String(LEASE_MS) } });
    const join = async (): Promise<Member> => {
      const server = await spawnServer(env);
      servers.push(server);
      return { server, trpc: httpClient(server.url) };
    };
    const members = await Promise.all([join(), join(), join()]);
    const urls = members.map((member) => member.server.url).sort();
    const listed = async (member: Member) => (await member.trpc.cluster.servers.query()).servers;
    const listsExactly = async (member: Member, expected: string[]) =>
      JSON.stringify((await listed(member)).map((server) => server.url).sort()) === JSON.stringify(expected);

    for (const member of members) {
      await waitFor(() => listsExactly(member, urls), `${member.server.url} lists all three servers`);
    }
    const leaders = new Set<string>();
    for (const member of members) {
      const list = await listed(member);
      expect(list.filter((server) => server.leader)).toHaveLength(1);
      leaders.add(list.find((server) => server.leader)!.url);
      // Answered by the server asked, a follower included: not forwarded to the leader.
      expect(list.filter((server) => server.self).map((server) => server.url)).toEqual([member.server.url]);
      for (const server of list) {
        expect(server.version).toBe(version);
        expect(Date.parse(server.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(server.startedAt));
      }
    }
    expect(leaders.size).toBe(1);
    const leaderUrl = [...leaders][0]!;
    const [first, second] = members.filter((member) => member.server.url !== leaderUrl);

    // A follower would refuse every delivery (it is an Anvil server): refused at submit, through either server.
    for (const via of [first!, members.find((member) => member.server.url === leaderUrl)!]) {
      const error = await trpcError(
        via.trpc.jobs.submit.mutate({
          prompt: uniquePrompt("hook"),
          ...quick,
          callbackUrl: `${second!.server.url}/hook`,
        }),
      );
      expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error.message).toContain("callbackUrl must not point at this Anvil server itself");
    }

    // A clean stop deletes its row: gone from every list as soon as the process has exited.
    await first!.server.kill("SIGTERM");
    const remaining = urls.filter((url) => url !== first!.server.url);
    for (const member of members.filter((member) => member !== first)) {
      expect((await listed(member)).map((server) => server.url).sort()).toEqual(remaining);
    }

    // Killed, it leaves its row behind: listed no more once unseen for three of its LEASE_MS.
    const killedAt = Date.now();
    await second!.server.kill("SIGKILL");
    const leader = members.find((member) => member.server.url === leaderUrl)!;
    await waitFor(
      () => listsExactly(leader, [leaderUrl]),
      "the server killed with -9 is no longer listed",
      3 * LEASE_MS + 10_000,
    );
    console.info(`a server killed with -9 left the list after ${Date.now() - killedAt} ms (LEASE_MS ${LEASE_MS})`);
  });

  it("lists a leader draining after SIGTERM as stopping, and one killed with -9 as not answering before it leaves", async () => {
    const { env: cluster, sims } = await clusterParts(postgres!, cleanups, { env: { LEASE_MS: String(LEASE_MS) } });
    const sim = sims[0]!;
    const join = async (env: Record<string, string> = {}): Promise<Member> => {
      const server = await spawnServer({ ...cluster, ...env });
      servers.push(server);
      return { server, trpc: httpClient(server.url) };
    };
    // The first server leads (a lone server leads at once); its grace outlasts the test, so it drains until killed.
    const leader = await join({ SHUTDOWN_GRACE_MS: "60000" });
    const follower = await join();
    const state = async () =>
      (await follower.trpc.cluster.servers.query()).servers.map(({ url, leader, stopping, answering }) => ({
        url,
        leader,
        stopping,
        answering,
      }));
    await waitFor(async () => (await state()).length === 2, "the follower lists both servers");
    expect(await state()).toEqual([
      { url: leader.server.url, leader: true, stopping: false, answering: true },
      { url: follower.server.url, leader: false, stopping: false, answering: true },
    ]);
    await follower.trpc.jobs.submit.mutate({ prompt: uniquePrompt("holds the drain sim:hang"), ...quick });
    await waitFor(() => sim.stats().log.some((entry) => entry.outcome === "running"), "the generation runs");

    const exit = leader.server.kill("SIGTERM");
    await waitFor(
      async () => (await state()).some((server) => server.url === leader.server.url && server.stopping),
      "the follower lists the leader as stopping",
    );
    expect(await state()).toEqual([
      { url: leader.server.url, leader: true, stopping: true, answering: true },
      { url: follower.server.url, leader: false, stopping: false, answering: true },
    ]);

    // Killed while it drains: listed as not answering (still stopping) until three of its LEASE_MS have gone by.
    await leader.server.kill("SIGKILL");
    await exit;
    servers.splice(servers.indexOf(leader.server), 1);
    await waitFor(
      async () => (await state()).some((server) => server.url === leader.server.url && !server.answering),
      "the follower lists the killed server as not answering",
      3 * LEASE_MS + 10_000,
    );
    expect((await state()).find((server) => server.url === leader.server.url)).toMatchObject({
      stopping: true,
      answering: false,
    });
    await waitFor(
      async () => (await state()).every((server) => server.url !== leader.server.url),
      "the killed server leaves the list",
      3 * LEASE_MS + 10_000,
    );
  });
});

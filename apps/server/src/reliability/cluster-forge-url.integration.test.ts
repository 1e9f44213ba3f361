import { createHmac } from "node:crypto";
import { createServer } from "node:net";
import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator } from "@anvil/forge-client";
import { describe, expect, it } from "vitest";
import { testDrivers } from "../testing/test-databases";
import { waitFor } from "../testing/wait";
import { clusterParts, spawnServer, useBuiltServers } from "./support/built-server";
import type { LogLine, ServerProcess } from "./support/built-server";

const postgres = testDrivers().find((driver) => driver.kind === "postgres");
const DIFFERS = "this server's FORGE_URL differs from the leader's";
const CHANGED = "the GPUs change with this leader";

const warnings = (server: ServerProcess, start: string): LogLine[] =>
  server.logs.filter((line) => typeof line.msg === "string" && line.msg.startsWith(start));
/**
 * A port nothing listens on, below the kernel's ephemeral range (32768 and up): the servers and simulators that
 * tests running beside this one start on port 0 land there, and one could take a port freed there before it is called.
 */
const unusedPort = async (): Promise<number> => {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once("error", () => resolve(false));
      probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
};
const leads = (server: ServerProcess) => server.logs.some((line) => line.msg === "this server leads the cluster");

/**
 * Servers of one cluster started with different FORGE_URL lists or sign-in settings: allowed (rolling changes), but
 * never silent; and a restarted server that finds its own earlier run still leading says so.
 */
describe.skipIf(!postgres)("what a server says of the cluster it joins", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(60_000);
  it("warns on a follower at start, on the next leader when it takes over, and on every server that sees it", async () => {
    const { env, sims } = await clusterParts(postgres!, cleanups, { simulators: [1, 2, 3].map(() => ({ stepMs: 5 })) });
    const [a, b, c] = sims as [ForgeSimulator, ForgeSimulator, ForgeSimulator];
    // Each server with its own list of backends.
    const join = async (...backends: ForgeSimulator[]): Promise<ServerProcess> => {
      const server = await spawnServer({ ...env, FORGE_URL: backends.map((sim) => sim.url).join(",") });
      servers.push(server);
      return server;
    };

    const first = await join(a, b);
    expect(leads(first)).toBe(true);
    const second = await join(a, c);
    expect(leads(second)).toBe(false);
    // Said at start, before the server listens: it follows a leader that drives other GPUs than its own list.
    expect(warnings(second, DIFFERS)).toMatchObject([
      {
        level: 40,
        leader: first.url,
        leaderBackends: [a.url, b.url],
        backends: [a.url, c.url],
        onlyHere: [c.url],
        onlyOnLeader: [b.url],
      },
    ]);
    expect(warnings(first, DIFFERS)).toEqual([]);

    // A rolling restart of the leader: the follower takes over, and its GPUs are not the ones that ran until now.
    expect(await first.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    servers.splice(servers.indexOf(first), 1);
    await waitFor(() => leads(second), "the follower takes over", 30_000);
    // The warning follows the line that says it leads; on a busy machine its output may come a moment later.
    await waitFor(() => warnings(second, CHANGED).length > 0, "the new leader says its GPUs differ", 5_000);
    expect(warnings(second, CHANGED)).toMatchObject([
      {
        level: 40,
        previousBackends: [a.url, b.url],
        backends: [a.url, c.url],
        onlyHere: [c.url],
        onlyOnPrevious: [b.url],
      },
    ]);

    // A server with the first one's list sees a leader with another; one with the leader's (in another order) does not.
    const third = await join(b, a);
    expect(warnings(third, DIFFERS)).toMatchObject([{ leader: second.url, onlyHere: [b.url], onlyOnLeader: [c.url] }]);
    const fourth = await join(c, a);
    expect(warnings(fourth, DIFFERS)).toEqual([]);
    // Said once per leader, not at every look at the lease.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(warnings(third, DIFFERS)).toHaveLength(1);
  });

  it("says that a server restarted after kill -9 follows an earlier run of itself until its lease runs out", async () => {
    const { env } = await clusterParts(postgres!, cleanups, { env: { LEASE_MS: "30000" } });
    const start = async (port: string) => {
      const server = await spawnServer({ ...env, PORT: port });
      servers.push(server);
      return server;
    };
    const first = await start("0");
    expect(leads(first)).toBe(true);
    expect(await first.kill("SIGKILL")).toMatchObject({ signal: "SIGKILL" });
    servers.splice(servers.indexOf(first), 1);
    // Restarted as a process manager does: same address, while the killed run's lease has 30 s to go.
    const again = await start(new URL(first.url).port);
    expect(leads(again)).toBe(false);
    expect(again.logs.find((line) => String(line.msg).startsWith("this server follows"))).toMatchObject({
      msg: `this server follows an earlier run of itself at ${first.url}, which still holds the cluster's lease (it stopped without giving it back): calls wait until the lease runs out, within LEASE_MS, and a server of the cluster leads (this one, if it is alone)`,
      leader: first.url,
    });
  });

  it("tells a follower that cannot reach its leader (a wrong CLUSTER_URL) in its log and its /healthz", async () => {
    const { env } = await clusterParts(postgres!, cleanups);
    // Nothing listens where the leader says the others reach it.
    const nowhere = `http://127.0.0.1:${await unusedPort()}`;
    const leader = await spawnServer({ ...env, CLUSTER_URL: nowhere });
    servers.push(leader);
    expect(leads(leader)).toBe(true);
    const follower = await spawnServer(env);
    servers.push(follower);

    const health = async () => {
      const reply = await fetch(`${follower.url}/healthz`);
      return { status: reply.status, body: (await reply.json()) as unknown };
    };
    expect(await health()).toMatchObject({ status: 200, body: { ok: true, role: "follower" } });
    // A call waits for the leader as long as a failover may take, then fails.
    const call = await fetch(`${follower.url}/trpc/queue.status`);
    expect(call.status).toBe(503);
    const warned = follower.logs.filter((line) => String(line.msg).startsWith("this server cannot reach the leader"));
    expect(warned).toMatchObject([{ level: 40, leader: nowhere }]);
    expect(await health()).toEqual({
      status: 503,
      body: { ok: false, role: "follower", database: "up", stopping: false, leader: "unreachable" },
    });
    // A follower stopped with SIGTERM has no generation to wait for, and says so rather than speak of a grace.
    expect(await follower.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    servers.splice(servers.indexOf(follower), 1);
    expect(follower.logs.map((line) => line.msg)).toContain(
      "stopping: no new work; this server follows, so it has no generation to wait for",
    );
  });

  it("warns a server whose WEBHOOK_SECRET differs from the leader's, or that has one where the other has none", async () => {
    const sim = await startForgeSimulator({ stepMs: 5 });
    cleanups.push(() => sim.close());
    const secrets = ["the-clusters-webhook-secret-1", "another-webhook-secret-22"] as const;
    const fingerprint = (secret: string) =>
      createHmac("sha256", secret).update("anvil webhook secret fingerprint").digest("hex").slice(0, 16);
    const cluster = async () => {
      const db = await postgres!.create();
      cleanups.push(() => db.dispose());
      return (secret?: string) =>
        spawnServer({
          FORGE_URL: sim.url,
          DATA_DIR: db.dataDir,
          DATABASE_URL: db.databaseUrl!,
          LEASE_MS: "2000",
          ...(secret ? { WEBHOOK_SECRET: secret } : {}),
        }).then((server) => (servers.push(server), server));
    };
    const warned = (server: ServerProcess) =>
      server.logs.filter((line) => typeof line.msg === "string" && line.msg.includes("WEBHOOK_SECRET"));

    const start = await cluster();
    const leader = await start(secrets[0]);
    expect(leads(leader)).toBe(true);
    const other = await start(secrets[1]);
    const none = await start();
    const same = await start(secrets[0]);
    // Said at start, before the server listens, in one line that names the variable and what to do.
    expect(warned(other)).toMatchObject([
      {
        level: 40,
        msg: "this server's WEBHOOK_SECRET differs from the leader's: each server signs the webhooks it delivers with its own, so a receiver rejects some of them; start every server of a cluster with the same WEBHOOK_SECRET",
        leader: leader.url,
        webhookSecretFingerprint: fingerprint(secrets[1]),
        leaderWebhookSecretFingerprint: fingerprint(secrets[0]),
      },
    ]);
    expect(warned(none)).toMatchObject([
      {
        level: 40,
        msg: expect.stringMatching(
          /^this server has no WEBHOOK_SECRET but the leader has one: .* the same WEBHOOK_SECRET$/,
        ),
        webhookSecretFingerprint: "none",
      },
    ]);
    expect(warned(same)).toEqual([]);
    expect(warned(leader)).toEqual([]);
    // A fingerprint, never the secret, in any server's log.
    for (const server of [leader, other, none, same]) {
      expect(JSON.stringify(server.logs)).not.toMatch(/webhook-secret-(1|22)/);
    }

    // The other way round: a leader without one, and a server that has one.
    const unsigned = await cluster();
    const bare = await unsigned();
    expect(leads(bare)).toBe(true);
    const signing = await unsigned(secrets[0]);
    expect(warned(signing)).toMatchObject([
      {
        msg: expect.stringMatching(
          /^this server has a WEBHOOK_SECRET but the leader has none: the webhooks the leader delivers go unsigned/,
        ),
        webhookSecretFingerprint: fingerprint(secrets[0]),
        leaderWebhookSecretFingerprint: "none",
      },
    ]);
  });

  it("warns a follower whose sign-in differs from the leader's, either way", async () => {
    const { env: cluster } = await clusterParts(postgres!, cleanups);
    const start = async (env: Record<string, string>) => {
      const server = await spawnServer({ ...cluster, ...env });
      servers.push(server);
      return server;
    };
    const signIn = (server: ServerProcess) =>
      server.logs.filter(
        (line) => typeof line.msg === "string" && line.msg.includes("API_TOKEN and AUTH_PROXY_HEADER"),
      );

    const leader = await start({ API_TOKEN: "the-clusters-admin-token" });
    expect(leads(leader)).toBe(true);
    const open = await start({});
    await waitFor(() => signIn(open).length > 0, "the follower without sign-in is warned");
    expect(signIn(open)).toMatchObject([
      {
        level: 40,
        msg: expect.stringMatching(/^this server asks for no sign-in .* should this one lead, anyone could call/),
        leader: leader.url,
        signInRequired: false,
        leaderSignInRequired: true,
      },
    ]);
    const same = await start({ API_TOKEN: "the-clusters-admin-token" });

    // The one without sign-in leads: the servers that ask for it are told what that opens.
    expect(await leader.kill("SIGTERM")).toEqual({ code: 0, signal: null });
    servers.splice(servers.indexOf(leader), 1);
    await waitFor(() => leads(open) || leads(same), "a follower takes over", 30_000);
    const [next, other] = leads(open) ? [open, same] : [same, open];
    if (next === open) {
      await waitFor(() => signIn(other).length > 0, "the follower with sign-in is warned");
      expect(signIn(other)).toMatchObject([
        {
          msg: expect.stringMatching(/^the leader asks for no sign-in but this server does/),
          leaderSignInRequired: false,
        },
      ]);
    } else {
      // The other one led: the server without sign-in sees a new leader that asks for it, and is told again.
      await waitFor(() => signIn(other).length > 1, "the follower without sign-in is warned of the new leader");
    }
    expect(signIn(same).filter((line) => line.leader === leader.url)).toEqual([]);
  });
});

import type { ForgeSimulator } from "@anvil/forge-client";
import type { Job } from "@anvil/job-machine";
import connect from "postgres";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import type { AnvilClient } from "../testing/clients";
import { uniquePrompt } from "../testing/fixtures";
import { scrape, valueOf } from "../testing/prometheus";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForJob } from "../testing/wait";
import { clusterParts, leadsCluster, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";
import { startTcpProxy, throughProxy } from "./support/tcp-proxy";

const LEASE_MS = 2_000;
const quick = { width: 64, height: 64, steps: 2 } as const;
/**
 * How long a failover may take: the killed leader's lease runs out (LEASE_MS after its last renewal), the next one
 * takes it at its next tick, and interrupts what it finds on the backend; as cluster-servers.integration.test.ts
 * allows a kill -9, three of LEASE_MS and room for a loaded machine (about 3 s on a quiet one).
 */
const FAILOVER_MS = 3 * LEASE_MS + 10_000;
const STEP_MS = 20;
/**
 * How long a generation of `steps` may take here: its steps and decode at STEP_MS each (the simulator's timers),
 * five times over for a loaded machine, whose timers fire late (2.2 times as slow was seen), and LEASE_MS for the
 * answer and the image to be written.
 */
const runMs = (steps: number) => 5 * (steps + 3) * STEP_MS + LEASE_MS;
/** What a leader killed or cut off leaves running: 3 s, so that it still runs when the next leader takes over. */
const KILLED_STEPS = 150;
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

interface Member {
  server: ServerProcess;
  trpc: AnvilClient;
}

const leads = (member: Member) => leadsCluster(member.server);

/** Several built servers on one PostgreSQL database, with simulator backends that outlive them like real GPUs. */
describe.skipIf(!postgres)("a cluster of built servers on one PostgreSQL", { timeout: 120_000 }, () => {
  const { servers, cleanups } = useBuiltServers(90_000);
  let database: TestDatabase;
  let sims: ForgeSimulator[];
  let clusterEnv: Record<string, string>;

  const setUp = async (backends: number, stepMs: number) => {
    ({
      database,
      sims,
      env: clusterEnv,
    } = await clusterParts(postgres!, cleanups, {
      simulators: Array.from({ length: backends }, () => ({ stepMs })),
      env: { LEASE_MS: String(LEASE_MS), JOB_TIMEOUT_MS: "120000" },
    }));
  };
  const join = async (env: Record<string, string> = {}): Promise<Member> => {
    const server = await spawnServer({ ...clusterEnv, ...env });
    servers.push(server);
    return { server, trpc: httpClient(server.url) };
  };
  const leaderOf = (members: Member[]) => {
    const leaders = members.filter(leads);
    expect(leaders).toHaveLength(1);
    return leaders[0]!;
  };

  it("shows the same positions from every server, and runs every job exactly once, never two on a backend", async () => {
    await setUp(2, 5);
    const members = [await join(), await join(), await join()];
    const leader = leaderOf(members);
    // Both GPUs held, so that the line stands still while every server is asked about it.
    const blockers = [];
    for (const sim of sims) {
      blockers.push(await leader.trpc.jobs.submit.mutate({ prompt: uniquePrompt("hold sim:hang"), ...quick }));
      await waitFor(() => sim.stats().active === 1 || sims.every((s) => s.stats().active === 1), "a GPU is held");
    }
    await waitFor(() => sims.every((sim) => sim.stats().active === 1), "both GPUs are held");
    const waiting: Job[] = [];
    for (let i = 0; i < 9; i++) {
      waiting.push(await members[i % 3]!.trpc.jobs.submit.mutate({ prompt: uniquePrompt(`line ${i}`), ...quick }));
    }
    for (const member of members) {
      const positions = await Promise.all(
        waiting.map(async (job) => (await member.trpc.jobs.get.query({ jobId: job.id })).queuePosition),
      );
      expect(positions).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
    // Scraping every server gives the cluster's figures once: the leader's, and no false "backend down" or empty
    // line from a follower.
    for (const member of members) {
      const samples = await scrape(member.server.url);
      const leading = member === leader;
      expect(valueOf(samples, "anvil_leads")).toBe(leading ? 1 : 0);
      expect(samples.filter((s) => s.name === "anvil_backend_up").map((s) => s.value)).toEqual(leading ? [1, 1] : []);
      expect(valueOf(samples, "anvil_queue_depth")).toBe(leading ? 9 : 0);
    }
    for (const [i, blocker] of blockers.entries()) await members[i]!.trpc.jobs.cancel.mutate({ jobId: blocker.id });
    for (const job of waiting)
      await waitForJob(members[2]!.trpc, job.id, (j) => j.status === "complete", "every job completes");
    const runs = sims.flatMap((sim) => sim.stats().log).filter((entry) => entry.prompt.startsWith("line "));
    expect(runs).toHaveLength(9);
    expect(new Set(runs.map((entry) => entry.prompt)).size).toBe(9);
    for (const sim of sims) expect(sim.stats()).toMatchObject({ waited: 0, maxQueued: 1 });
  });

  it("runs the generation of a leader killed with -9 again on the next leader, and never twice at once", async () => {
    await setUp(1, STEP_MS);
    const members = [await join(), await join()];
    const leader = leaderOf(members);
    const follower = members.find((member) => member !== leader)!;
    const job = await follower.trpc.jobs.submit.mutate({
      prompt: uniquePrompt("survives kill -9"),
      width: 64,
      height: 64,
      steps: KILLED_STEPS,
    });
    await waitFor(() => sims[0]!.stats().log.some((entry) => entry.outcome === "running"), "the generation runs");
    const killedAt = Date.now();
    await leader.server.kill("SIGKILL");
    servers.splice(servers.indexOf(leader.server), 1);
    // Two waits, each bounded by what it waits on rather than by one fixed 10 s for both, which a loaded machine
    // overran while the generation was still running (its steps are timers, slower there): the next leader starts it
    // again once the lease has run out, then the job takes its own length.
    await waitFor(() => sims[0]!.stats().log.length > 1, "the next leader starts the generation again", FAILOVER_MS);
    const done = await waitForJob(
      follower.trpc,
      job.id,
      (j) => j.status === "complete",
      "the job completes on the next leader",
      runMs(KILLED_STEPS),
    );
    expect(done.attempt).toBe(2);
    const [orphan, rerun] = sims[0]!.stats().log;
    expect(orphan?.outcome).toBe("interrupted");
    expect(rerun?.startedAt).toBeGreaterThanOrEqual(orphan?.endedAt ?? Infinity);
    expect(sims[0]!.stats().waited).toBe(0);
    // The failover time, for the README: kill to the generation starting again.
    console.info(`failover: ${(rerun?.startedAt ?? 0) - killedAt} ms (LEASE_MS ${LEASE_MS})`);
    expect(leads(follower)).toBe(true);
  });

  it("applies a cancel held during a failover before the next leader starts anything: the job never runs again", async () => {
    await setUp(1, 20);
    const members = [await join(), await join()];
    const leader = leaderOf(members);
    const follower = members.find((member) => member !== leader)!;
    const prompt = uniquePrompt("cancelled during the failover");
    // About half a second: the generation the killed leader left ends long before the lease runs out, so the next
    // leader finds its backend idle and could start the job again at once.
    const job = await follower.trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 20 });
    await waitFor(() => sims[0]!.stats().log.some((entry) => entry.outcome === "running"), "the generation runs");
    await leader.server.kill("SIGKILL");
    servers.splice(servers.indexOf(leader.server), 1);
    // Held by the follower until it leads (no leader answers meanwhile), then applied there.
    const cancelled = await follower.trpc.jobs.cancel.mutate({ jobId: job.id });
    expect(cancelled.status).toBe("cancelled");
    // Once the backend is up again on the new leader, anything it was going to start has started.
    await waitFor(async () => (await follower.trpc.queue.status.query()).backends[0]?.healthy === true, "backend up");
    const after = await follower.trpc.jobs.submit.mutate({ prompt: uniquePrompt("after the failover"), ...quick });
    await waitForJob(follower.trpc, after.id, (j) => j.status === "complete", "the line goes on");
    // The new leader never started the cancelled job, and its backend ran only what the killed leader left.
    const starts = follower.server.logs.filter((line) => line.msg === "job queued → processing");
    expect(starts.map((line) => line.jobId)).toEqual([after.id]);
    const runs = sims[0]!.stats().log.filter((entry) => entry.prompt === prompt);
    expect(runs.map((entry) => entry.outcome)).toEqual(["completed"]);
  });

  it("lets a leader stopped with SIGTERM finish its generation (attempt 1), then hands over at once", async () => {
    await setUp(1, 20);
    // The follower looks at the lease every 2.5 s of its own: it takes the lease at once only because it is told.
    const members = [await join({ SHUTDOWN_GRACE_MS: "30000" }), await join({ LEASE_MS: "600000" })];
    const leader = leaderOf(members);
    const follower = members.find((member) => member !== leader)!;
    const job = await follower.trpc.jobs.submit.mutate({
      prompt: uniquePrompt("finishes on SIGTERM"),
      width: 64,
      height: 64,
      steps: 60,
    });
    await waitFor(() => sims[0]!.stats().log.some((entry) => entry.outcome === "running"), "the generation runs");
    const exit = leader.server.kill("SIGTERM");
    const done = await waitForJob(follower.trpc, job.id, (j) => j.status === "complete", "the job completes");
    expect(done.attempt).toBe(1);
    expect(await exit).toMatchObject({ code: 0 });
    servers.splice(servers.indexOf(leader.server), 1);
    expect(sims[0]!.stats().log).toHaveLength(1);
    await waitFor(() => leads(follower), "the follower leads");
    expect(follower.server.logs.find((line) => line.msg === "this server leads the cluster")).toMatchObject({
      previousLeader: leader.server.url,
      handedOver: true,
    });
    const next = await follower.trpc.jobs.submit.mutate({ prompt: uniquePrompt("after the hand-over"), ...quick });
    await waitForJob(follower.trpc, next.id, (j) => j.status === "complete", "the next leader runs new work");
  });

  it("stops a leader cut off from the database from dispatching; the other takes over and no late write lands", async () => {
    await setUp(1, STEP_MS);
    const url = new URL(database.databaseUrl!);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    cleanups.push(() => proxy.close());
    const cutOff = await join({ DATABASE_URL: throughProxy(database.databaseUrl!, proxy) });
    const other = await join();
    expect(leads(cutOff)).toBe(true);
    const job = await other.trpc.jobs.submit.mutate({
      prompt: uniquePrompt("survives a cut"),
      width: 64,
      height: 64,
      steps: KILLED_STEPS,
    });
    await waitFor(() => sims[0]!.stats().log.some((entry) => entry.outcome === "running"), "the generation runs");
    proxy.blackhole();
    await waitFor(() => leads(other), "the other server leads", 30_000);
    // It still answers for itself, and no longer as the leader: the other server is.
    const health = await fetch(`${cutOff.server.url}/healthz`);
    expect({ status: health.status, body: await health.json() }).toEqual({
      status: 503,
      body: { ok: false, role: "follower", database: "down", stopping: false },
    });
    // Its metrics say so too, so that scraping every server counts each job once: the new leader's.
    const metrics = await (await fetch(`${cutOff.server.url}/metrics`)).text();
    expect(metrics).toMatch(/^anvil_leads 0$/m);
    expect(metrics).not.toMatch(/^anvil_jobs\{/m);
    // The new leader names the one it replaced.
    expect(other.server.logs.find((line) => line.msg === "this server leads the cluster")).toMatchObject({
      previousLeader: cutOff.server.url,
    });
    const done = await waitForJob(
      other.trpc,
      job.id,
      (j) => j.status === "complete",
      "the job completes on the new leader",
      runMs(KILLED_STEPS),
    );
    expect(done.attempt).toBe(2);
    await proxy.restore();
    // Whatever the cut-off server still had to write is refused by the fence: the job stays as the new leader left it.
    await waitFor(() => !leads(cutOff), "the cut-off server stepped down");
    // And it says whom it forwards to now.
    await waitFor(
      () => cutOff.server.logs.some((line) => line.msg === "the cluster has a new leader: this server forwards to it"),
      "the stepped-down server names the new leader",
    );
    expect(
      cutOff.server.logs.find((line) => line.msg === "the cluster has a new leader: this server forwards to it"),
    ).toMatchObject({ leader: other.server.url, previousLeader: "this server" });
    const after = await other.trpc.jobs.get.query({ jobId: job.id });
    expect(after).toMatchObject({ status: "complete", attempt: 2, imageUrl: done.imageUrl });
    expect(sims[0]!.stats().waited).toBe(0);
    // The new leader's interrupt of the generation it found is not told as Interrupt pressed in Forge's own UI.
    const said = cutOff.server.logs.map((line) => String(line.msg));
    expect(said.filter((msg) => msg.includes("Forge's own interface"))).toEqual([]);
  });

  it("leaves the backends alone once its term is over: it stops its generation without interrupting it there", async () => {
    await setUp(1, 20);
    const leader = await join();
    expect(leads(leader)).toBe(true);
    const prompt = uniquePrompt("outlives its term");
    await leader.trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 150 });
    await waitFor(() => sims[0]!.stats().log.some((entry) => entry.prompt === prompt), "the generation runs");
    // Another server takes the lease (for long: nobody takes it back during the test). From now on the backend is
    // the next leader's: the job it finds there is its to interrupt or wait out, and it may already run its own.
    const sql = connect(database.databaseUrl!, { max: 1 });
    try {
      await sql`update cluster_leader set holder = 'another server', epoch = epoch + 1,
                  expires_at = clock_timestamp() + interval '1 hour' where id = 1`;
    } finally {
      await sql.end();
    }
    await waitFor(() => !leads(leader), "the server stepped down");
    const entry = () => sims[0]!.stats().log.find((e) => e.prompt === prompt)!;
    await waitFor(() => entry().outcome !== "running", "the generation ends on the backend", 30_000);
    expect(entry().outcome).toBe("completed");
    expect(sims[0]!.stats().interrupted).toBe(0);
    // Its calls were cut off by the end of its term, not by the backend, and its late writes were refused by the
    // fence, not by a database outage: neither is logged as one.
    const said = leader.server.logs.map((line) => line.msg);
    expect(said).not.toContain("backend down");
    expect(said).not.toContain("database write failed; retrying");
    // A late write, if it came before the server saw its term end, is said once as what it is (whether one comes
    // depends on timing), never once per retry.
    expect(said.filter((msg) => msg?.startsWith("another server leads the cluster now")).length).toBeLessThanOrEqual(1);
  });
});

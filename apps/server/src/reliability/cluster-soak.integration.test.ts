import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import type { AnvilClient } from "../testing/clients";
import { testDrivers } from "../testing/test-databases";
import { pause, waitFor } from "../testing/wait";
import { clusterParts, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

/**
 * How long the soak runs; unset: it is skipped (`npm run test:soak` sets two minutes). Three built servers on one
 * PostgreSQL database and two simulator backends take a steady stream of submissions (some that run out of memory,
 * some with a checkpoint) and cancels through random servers, while one server at a time is killed with -9 or stopped
 * with SIGTERM and another started in its place. Then every job must have ended, the same on every server.
 */
const SOAK_MS = Number(process.env["SOAK_MS"] ?? 0);
const postgres = testDrivers().find((driver) => driver.kind === "postgres");

interface Member {
  server: ServerProcess;
  trpc: AnvilClient;
}

/** The tRPC error code of a failed call; undefined when no answer came. */
const codeOf = (error: unknown): string | undefined =>
  error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : undefined;

/**
 * No answer (the server is gone), a 503 (no leader right now), or a 502 (the leader went away while it handled the
 * call, which may or may not have taken effect): the same submit, with its idempotency key, may be sent again.
 */
const transient = (error: unknown): boolean => {
  if (!(error instanceof TRPCClientError)) return false;
  const code = codeOf(error);
  return code === undefined || code === "SERVICE_UNAVAILABLE" || code === "BAD_GATEWAY";
};

const random = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * Writes every server's log lines and stderr (the killed ones' too) and each simulator's statistics to a new folder,
 * and returns its path: a failed soak is read there, since the servers it asks about may be long gone.
 */
const keepLogs = async (everyone: readonly ServerProcess[], sims: readonly { stats(): unknown }[]): Promise<string> => {
  const folder = await mkdtemp(join(tmpdir(), "anvil-soak-"));
  for (const [i, server] of everyone.entries()) {
    const lines = server.logs.map((line) => JSON.stringify(line)).join("\n");
    await writeFile(join(folder, `server-${i}-${server.pid}.log`), `${lines}\n`);
    await writeFile(join(folder, `server-${i}-${server.pid}.stderr`), server.stderr());
  }
  for (const [i, sim] of sims.entries())
    await writeFile(join(folder, `simulator-${i}.json`), JSON.stringify(sim.stats()));
  return folder;
};

/**
 * A read, again while it gets no answer or a 503: on this loaded machine a keep-alive socket a server closes as the
 * next request goes out on it ("other side closed") is an ordinary HTTP/1.1 race, which a client retries.
 */
const read = async <T>(call: () => Promise<T>): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!transient(error) || attempt === 20) throw error;
      await pause(250);
    }
  }
};

describe.skipIf(!postgres || SOAK_MS <= 0)("a cluster under kills and restarts", { timeout: SOAK_MS + 300_000 }, () => {
  const { servers, cleanups } = useBuiltServers(90_000);

  it("ends every job it accepted, the same on every server, never running a job twice at once nor two on a GPU", async () => {
    const { env, sims } = await clusterParts(postgres!, cleanups, {
      simulators: [0, 1].map(() => ({ stepMs: 15, encodeMs: 40, errorAnswerMs: 40, modelLoadMs: 100 })),
      env: { JOB_TIMEOUT_MS: "60000" },
    });
    const members: Member[] = [];
    /** Every server started, the killed ones too: their logs are kept if the soak fails. */
    const everyone: ServerProcess[] = [];
    const enlist = async () => {
      // Half of them let a running generation finish on SIGTERM, half interrupt it at once.
      const server = await spawnServer({ ...env, SHUTDOWN_GRACE_MS: Math.random() < 0.5 ? "0" : "3000" });
      servers.push(server);
      everyone.push(server);
      members.push({ server, trpc: httpClient(server.url) });
    };
    for (let i = 0; i < 3; i++) await enlist();

    const accepted = new Map<string, string>(); // idempotency key → job id
    const pending = new Set<Promise<void>>();
    const problems: string[] = [];
    const counts = { submitted: 0, resent: 0, refused: 0, cancels: 0, kills: 0, terms: 0 };
    let submitting = true;

    /** One submission, sent again with its key through any server while it gets no answer or a 503. */
    const submit = async (n: number) => {
      const key = `soak-${n}`;
      const fault = Math.random();
      const input = {
        prompt: `soak ${n}${fault < 0.05 ? " sim:oom" : fault < 0.1 ? " sim:vaeoom" : ""}`,
        width: 64,
        height: 64,
        steps: 2 + Math.floor(Math.random() * 20),
        idempotencyKey: key,
        ...(Math.random() < 0.3 ? { checkpoint: "flux1-schnell" } : {}),
      };
      for (let attempt = 0; attempt < 100; attempt++) {
        try {
          const job = await random(members).trpc.jobs.submit.mutate(input);
          const before = accepted.get(key);
          if (before !== undefined && before !== job.id) problems.push(`${key} gave two jobs: ${before}, ${job.id}`);
          accepted.set(key, job.id);
          return;
        } catch (error) {
          // A line longer than MAX_QUEUED_PER_USER (a long soak outruns the two GPUs): refused, and stored nowhere.
          if (codeOf(error) === "TOO_MANY_REQUESTS") return void counts.refused++;
          if (!transient(error)) return void problems.push(`${key}: ${String(error)}`);
          counts.resent++;
          await pause(300);
        }
      }
      problems.push(`${key} was never accepted`);
    };
    const submitter = (async () => {
      for (let n = 0; submitting; n++) {
        counts.submitted++;
        const sent = submit(n);
        pending.add(sent);
        void sent.finally(() => pending.delete(sent));
        if (Math.random() < 0.08 && accepted.size > 0) {
          counts.cancels++;
          const jobId = random([...accepted.values()]);
          void random(members)
            .trpc.jobs.cancel.mutate({ jobId })
            .catch(() => undefined);
        }
        await pause(120);
      }
    })();

    const until = Date.now() + SOAK_MS;
    while (Date.now() < until) {
      await pause(6_000 + Math.random() * 8_000);
      const victim = members.splice(Math.floor(Math.random() * members.length), 1)[0]!;
      if (Math.random() < 0.5) {
        counts.kills++;
        await victim.server.kill("SIGKILL");
      } else {
        counts.terms++;
        const exit = await victim.server.kill("SIGTERM");
        if (exit.code !== 0) problems.push(`a server stopped with SIGTERM exited with ${JSON.stringify(exit)}`);
      }
      servers.splice(servers.indexOf(victim.server), 1);
      await enlist();
    }
    submitting = false;
    await submitter;
    await Promise.all(pending);

    try {
      await checkEveryJob();
    } catch (error) {
      console.info(
        `the soak failed; every server's logs and the simulators' statistics are in ${await keepLogs(everyone, sims)}`,
      );
      throw error;
    }

    async function checkEveryJob(): Promise<void> {
      const ids = [...new Set(accepted.values())];
      const { trpc } = members[0]!;
      // Every job in the database ends: those accepted, and any whose answer was lost on the way.
      await waitFor(
        async () =>
          (await read(() => trpc.jobs.list.query({ status: ["queued", "processing"], limit: 1 }))).items.length === 0,
        "every accepted job ends",
        180_000,
      );
      // Every generation of each job, on either backend. A job may run more than once (a leader killed mid-generation,
      // a shutdown that interrupted it after its last step: it then runs again as its next attempt, spared), never twice at once.
      const runs = new Map<string, { from: number; to: number }[]>();
      for (const sim of sims) {
        for (const entry of sim.stats().log) {
          const spans = runs.get(entry.prompt) ?? [];
          spans.push({ from: entry.startedAt, to: entry.endedAt ?? Infinity });
          runs.set(entry.prompt, spans);
        }
      }
      const overlapping = (spans: { from: number; to: number }[]) =>
        spans.some((a, i) => spans.some((b, k) => k > i && a.from < b.to && b.from < a.to));
      let reruns = 0;
      const statuses: Record<string, number> = {};
      for (const jobId of ids) {
        const [job, ...others] = await Promise.all(
          members.map((member) => read(() => member.trpc.jobs.get.query({ jobId }))),
        );
        statuses[job!.status] = (statuses[job!.status] ?? 0) + 1;
        for (const other of others) {
          if (other.status !== job!.status || other.imageUrl !== job!.imageUrl) problems.push(`${jobId} differs`);
        }
        const spans = runs.get(job!.prompt) ?? [];
        if (overlapping(spans)) problems.push(`${jobId} ran twice at once`);
        reruns += Math.max(0, spans.length - 1);
        if (job!.status === "complete") {
          const image = await fetch(`${members.at(-1)!.server.url}${job!.imageUrl}`);
          if (image.status !== 200) problems.push(`${jobId}: its image answered ${image.status}`);
        }
        if (job!.status === "error" && !/out of GPU memory|attempts/.test(job!.error ?? "")) {
          problems.push(`${jobId} failed: ${job!.error}`);
        }
      }
      console.info(JSON.stringify({ jobs: ids.length, statuses, reruns, ...counts }));
      for (const sim of sims) expect(sim.stats()).toMatchObject({ overlaps: 0, waited: 0, maxQueued: 1 });
      expect(problems).toEqual([]);
      expect(ids.length).toBeGreaterThan(0);
    }
  });
});

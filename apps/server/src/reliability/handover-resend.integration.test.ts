import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { httpClient } from "../testing/clients";
import { testDrivers } from "../testing/test-databases";
import { pause, waitFor } from "../testing/wait";
import { clusterParts, leadsCluster as leads, spawnServer, useBuiltServers } from "./support/built-server";
import type { ServerProcess } from "./support/built-server";

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

/** One kind of key-less call a plain HTTP caller makes through a follower: its path, and the body for `prompts`. */
interface Writer {
  path: string;
  prompts: number;
  body: (prompts: string[]) => unknown;
}

const job = (prompt: string) => ({ prompt, width: 64, height: 64, steps: 2 });

const WRITERS: Writer[] = [
  { path: "/trpc/jobs.submit", prompts: 1, body: ([prompt]) => job(prompt!) },
  { path: "/trpc/jobs.submit", prompts: 1, body: ([prompt]) => job(prompt!) },
  { path: "/trpc/jobs.submit", prompts: 1, body: ([prompt]) => job(prompt!) },
  { path: "/trpc/jobs.submitMany", prompts: 3, body: (prompts) => ({ jobs: prompts.map(job) }) },
  // Two submissions of the same prompt in one tRPC batch: two jobs, each once.
  {
    path: "/trpc/jobs.submit,jobs.submit?batch=1",
    prompts: 2,
    body: ([a, b]) => ({ 0: job(a!), 1: job(b!) }),
  },
  {
    path: "/trpc/jobs.submitMany,jobs.submit?batch=1",
    prompts: 3,
    body: ([a, b, c]) => ({ 0: { jobs: [job(a!), job(b!)] }, 1: job(c!) }),
  },
];

describe.skipIf(!postgres)("a cluster leader stopped with SIGTERM", { timeout: 90_000 }, () => {
  const { servers, cleanups } = useBuiltServers(60_000);

  it("gives key-less submissions sent through a follower no 502, and makes each prompt's job once", async () => {
    const { env } = await clusterParts(postgres!, cleanups, {
      simulators: [{ stepMs: 2 }],
      // The writers outrun the one simulated GPU.
      env: { SHUTDOWN_GRACE_MS: "500", MAX_QUEUED_PER_USER: "100000" },
    });
    const start = async (): Promise<ServerProcess> => {
      const server = await spawnServer(env);
      servers.push(server);
      return server;
    };
    const first = await start();
    let follower = await start();
    await waitFor(() => leads(first) && !leads(follower), "the first server leads");

    // Plain HTTP callers without idempotency keys, as curl or a service of its own would send them, through a
    // follower. A 503 says nothing was done: the same prompts are sent again. A 502 leaves them not knowing.
    // How many jobs each prompt answered with 200 should be: a batch may submit one prompt twice.
    const accepted = new Map<string, number>();
    const badGateways: string[] = [];
    const problems: string[] = [];
    let writing = true;
    /** The prompts of one call's input: a submission's, or each of a `submitMany`'s jobs'. */
    const promptsOf = (input: unknown): string[] => {
      const { prompt, jobs } = input as { prompt?: string; jobs?: { prompt: string }[] };
      return jobs ? jobs.map((j) => j.prompt) : [prompt!];
    };
    /**
     * Sends `input` to `path` until it is answered: again while it is refused with 503 (nothing was done). A batch
     * whose calls came to different ends (207: one done, one refused with 503 as the leader's term ended between
     * them) has its refused calls sent again, each alone, as a careful caller does.
     */
    const send = async (path: string, input: unknown, prompts: string[]): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(`${follower.url}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(input),
        }).catch((error: unknown) => error as Error);
        if (response instanceof Error) {
          problems.push(`${path}: no answer: ${response.message} (${String(response.cause)})`);
          return;
        }
        const text = await response.text();
        if (response.status === 200) {
          for (const prompt of prompts) accepted.set(prompt, (accepted.get(prompt) ?? 0) + 1);
          return;
        }
        if (response.status === 502) {
          badGateways.push(`${path}: ${text}`);
          return;
        }
        if (response.status === 207 && path.includes("batch")) {
          const procedures = path.slice("/trpc/".length).split("?")[0]!.split(",");
          const results = JSON.parse(text) as { result?: unknown; error?: { data?: { code?: string } } }[];
          const calls = input as Record<string, unknown>;
          for (const [i, result] of results.entries()) {
            const call = calls[i];
            if (result.result !== undefined) {
              for (const prompt of promptsOf(call)) accepted.set(prompt, (accepted.get(prompt) ?? 0) + 1);
            } else if (result.error?.data?.code === "SERVICE_UNAVAILABLE") {
              await send(`/trpc/${procedures[i]}`, call, promptsOf(call));
            } else problems.push(`${path}: call ${i}: ${JSON.stringify(result)}`);
          }
          return;
        }
        if (response.status !== 503 || attempt === 50) {
          problems.push(`${path}: ${response.status} ${text}`);
          return;
        }
        await pause(100);
      }
    };
    const write = async ({ path, prompts: count, body }: Writer) => {
      while (writing) {
        const prompts = Array.from({ length: count }, () => `handover ${randomUUID()}`);
        if (path.includes("batch") && count === 2) prompts[1] = prompts[0]!;
        await send(path, body(prompts), prompts);
        await pause(10);
      }
    };
    const writers = Promise.all([...WRITERS, ...WRITERS].map(write));

    // Two hand-overs, each with the calls going through a follower: the first leader stops with SIGTERM (a rolling
    // restart), and the follower takes over; a new server follows it, the calls now go through that one, and the
    // second leader is killed (-9) with calls on its connections, some of them done and never answered.
    await pause(1_000);
    expect(await first.kill("SIGTERM")).toMatchObject({ code: 0 });
    servers.splice(servers.indexOf(first), 1);
    const second = follower;
    await waitFor(() => leads(second), "the follower leads");
    follower = await start();
    // The leader has answered calls this follower forwarded (it learns so that the leader takes call ids; see
    // resend-safe.ts) before it is killed.
    const before = accepted.size;
    await waitFor(() => accepted.size > before + 50, "calls through the new follower are answered");
    await pause(500);
    await second.kill("SIGKILL");
    servers.splice(servers.indexOf(second), 1);
    await waitFor(() => leads(follower), "the new server leads", 15_000);
    await pause(500);
    writing = false;
    await writers;

    expect(problems).toEqual([]);
    expect(badGateways).toEqual([]);
    // Every prompt answered with 200 is one job, never two; a 502's would be either.
    const trpc = httpClient(follower.url);
    const jobsOf = new Map<string, number>();
    for (let cursor: string | null = null; ;) {
      const page = await trpc.jobs.list.query({ limit: 500, ...(cursor ? { cursor } : {}) });
      for (const item of page.items) jobsOf.set(item.prompt, (jobsOf.get(item.prompt) ?? 0) + 1);
      cursor = page.nextCursor;
      if (cursor === null) break;
    }
    const wrong = [...new Set([...accepted.keys(), ...jobsOf.keys()])]
      .map((prompt) => ({ prompt, jobs: jobsOf.get(prompt) ?? 0, accepted: accepted.get(prompt) ?? 0 }))
      .filter(({ jobs, accepted: expected }) => jobs !== expected);
    expect(wrong).toEqual([]);
    expect(accepted.size).toBeGreaterThan(50);
  });
});

import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { startForgeSimulator } from "@anvil/forge-client";
import { serverNodeArgs, spawnScript } from "../testing/spawn-server";
import type { ServerProcess } from "../testing/spawn-server";
import { fill } from "./crowd";
import { summarise } from "./stats";

const SERVER = fileURLToPath(new URL("./main.js", import.meta.url));
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `queue.status` of `url`: how many jobs wait and run. */
async function lineOf(url: string): Promise<{ queued: number; processing: number }> {
  const reply = (await (await fetch(`${url}/trpc/queue.status`)).json()) as {
    result: { data: { queued: number; processing: number } };
  };
  return reply.result.data;
}

/**
 * Drain of `total` small jobs on two simulator backends with no step time: once through one built server, once
 * through three built servers on one PostgreSQL database (jobs submitted a third through each), each on its own
 * fresh database (`database()` makes one). The two take turns for `rounds` rounds; printed as jobs per second and
 * the median of the rounds' ratios.
 */
export async function clusterDrain(
  database: () => Promise<{ url: string; drop: () => Promise<void> }>,
  dataDir: (name: string) => string,
  total = 300,
  rounds = 3,
): Promise<void> {
  const sims = await Promise.all([0, 1].map(() => startForgeSimulator({ stepMs: 0, maxImageSize: 64 })));
  const ratios: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const rates: number[] = [];
      for (const size of [1, 3]) {
        const db = await database();
        const servers: ServerProcess[] = [];
        try {
          for (let i = 0; i < size; i++) {
            servers.push(
              await spawnScript(
                SERVER,
                {
                  DATA_DIR: dataDir(`cluster-${round}-${size}-${i}`),
                  DATABASE_URL: db.url,
                  FORGE_URL: sims.map((sim) => sim.url).join(","),
                  MAX_QUEUED_PER_USER: "0",
                },
                120_000,
              ),
            );
          }
          const [first] = servers;
          if (first === undefined) throw new Error(`no server started for a cluster of ${size}`);
          // Every server answers (the followers forward to the leader) before the clock starts.
          for (const server of servers) await lineOf(server.url);
          const start = performance.now();
          await Promise.all(
            servers.map((server, i) => fill(server.url, Math.floor(total / size), `drain ${size}-${i}`)),
          );
          for (;;) {
            const { queued, processing } = await lineOf(first.url);
            if (queued === 0 && processing === 0) break;
            await settle(20);
          }
          const seconds = (performance.now() - start) / 1000;
          const done = Math.floor(total / size) * size;
          rates.push(done / seconds);
          console.log(
            `drain through ${size} server${size === 1 ? "" : "s"} on one PostgreSQL, 2 simulator backends with no step time: ${(done / seconds).toFixed(0)} jobs/s (${done} jobs in ${seconds.toFixed(2)} s, submitting included)`,
          );
        } finally {
          // A profiled server (ANVIL_SERVER_NODE_ARGS=--cpu-prof) writes its profile only when it exits by itself.
          for (const server of servers) await server.kill(serverNodeArgs().length > 0 ? "SIGTERM" : "SIGKILL");
          await db.drop();
        }
      }
      const [one, three] = rates;
      if (one === undefined || three === undefined) {
        throw new Error(`round ${round} measured ${rates.length} of 2 drains`);
      }
      ratios.push(three / one);
    }
    const ratio = summarise(ratios).median;
    console.log(
      `3-server cluster drain against one server's: median ratio of ${rounds} alternating rounds ${ratio.toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")}; aim ≥ 1)`,
    );
  } finally {
    await Promise.all(sims.map((sim) => sim.close()));
  }
}

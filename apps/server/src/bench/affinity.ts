import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EventHub } from "@anvil/api";
import { makeForgeClient, startForgeSimulator } from "@anvil/forge-client";
import type { DispatchDecision } from "@anvil/job-machine";
import type { AnvilDatabase } from "@anvil/persistence";
import { benchService } from "./bench-service";

/** A small deterministic generator, so every run submits the same line. */
const random = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};

const CHECKPOINTS = ["flux1-dev", "flux1-schnell", "sdxl-base-1.0"];
const checkpoint = (i: number): string => CHECKPOINTS[i % CHECKPOINTS.length] ?? "flux1-dev";
const GPUS = 2;
const STEP_MS = 15;
const STEPS = 10;
const SWITCH_MS = 500;

type Workload = { name: string; jobs: () => { owner: string; checkpoint: string }[] };

const WORKLOADS: Workload[] = [
  {
    // Each user mostly uses one checkpoint (user i: checkpoint i mod 3) and now and then another.
    name: "a team: 60 jobs from 4 users, each mostly on one of 3 checkpoints",
    jobs: () => {
      const next = random(7);
      const jobs: { owner: string; checkpoint: string }[] = [];
      for (let i = 0; i < 15; i++) {
        for (let u = 0; u < 4; u++) {
          const favourite = checkpoint(u);
          const other = checkpoint(Math.floor(next() * CHECKPOINTS.length));
          jobs.push({ owner: `user-${u}`, checkpoint: next() < 0.6 ? favourite : other });
        }
      }
      return jobs;
    },
  },
  {
    // Each user compares two checkpoints: the same prompt on one, then on the other, over and over.
    name: "comparing: 40 jobs from 2 users, each alternating between 2 checkpoints",
    jobs: () =>
      Array.from({ length: 20 }, (_, i) =>
        [0, 1].map((u) => ({ owner: `user-${u}`, checkpoint: checkpoint(u === 0 ? i % 2 : 1 + (i % 2)) })),
      ).flat(),
  },
];

interface Run {
  switches: number;
  seconds: number;
  kept: number;
  maxPasses: number;
}

/** The most times any job was passed over, counted from the decisions (one priority: an owner's jobs go in order). */
const maxPasses = (jobs: { id: string; owner: string }[], decisions: DispatchDecision[]): number => {
  const waiting = new Map<string, string[]>();
  for (const { id, owner } of jobs) waiting.set(owner, [...(waiting.get(owner) ?? []), id]);
  const passes = new Map<string, number>();
  for (const decision of decisions) {
    const line = waiting.get(decision.owner) ?? [];
    const at = line.indexOf(decision.jobId);
    for (const passed of line.slice(0, at)) passes.set(passed, (passes.get(passed) ?? 0) + 1);
    line.splice(at, 1);
  }
  return Math.max(0, ...passes.values());
};

/** The whole workload through the job service on two fresh simulators with a switch cost. */
async function runOnce(
  database: AnvilDatabase,
  imagesDir: string,
  workload: Workload,
  modelAffinity: boolean,
): Promise<Run> {
  const sims = await Promise.all(
    Array.from({ length: GPUS }, () => startForgeSimulator({ stepMs: STEP_MS, modelLoadMs: SWITCH_MS })),
  );
  const jobs = workload.jobs();
  const events = new EventHub();
  let finished = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  events.subscribe((m) => {
    if (m.kind === "status" && m.job.status === "complete" && ++finished === jobs.length) done();
  });
  const decisions: DispatchDecision[] = [];
  const service = await benchService(database, imagesDir, {
    events,
    backends: sims.map((sim) => makeForgeClient({ baseUrl: sim.url })),
    probeIntervalMs: 100,
    modelAffinity,
    onDispatch: (decision) => decisions.push(decision),
  });
  await service.setPaused(true);
  const ids: string[] = [];
  for (const { owner, checkpoint } of jobs) {
    const input = {
      prompt: `${owner} ${checkpoint}`,
      negativePrompt: "",
      width: 64,
      height: 64,
      steps: STEPS,
      cfgScale: 1,
      distilledCfgScale: 3.5,
      seed: 1,
      sampler: "Euler",
      scheduler: null,
      checkpoint,
      modules: [],
    };
    ids.push((await service.submit(input, { name: owner, admin: false })).id);
  }
  await new Promise<void>((resolve) => {
    const check = () => (service.monitor.health().every((b) => b.healthy) ? resolve() : setTimeout(check, 10));
    check();
  });
  const start = performance.now();
  await service.setPaused(false);
  await all;
  const seconds = (performance.now() - start) / 1000;
  await service.stop();
  const switches = sims.reduce((sum, sim) => sum + sim.stats().modelLoads, 0);
  await Promise.all(sims.map((sim) => sim.close()));
  return {
    switches,
    seconds,
    kept: decisions.filter((d) => d.kind === "affinity").length,
    maxPasses: maxPasses(
      jobs.map((job, i) => ({ id: ids[i] ?? "", owner: job.owner })),
      decisions,
    ),
  };
}

/**
 * Model affinity against the same line without it (MODEL_AFFINITY=0, which still puts the first in line on a free GPU
 * that has its model): 2 simulated GPUs whose checkpoint switch costs 500 ms (a generation about 200 ms), both
 * starting with flux1-dev loaded, for each workload. Prints the model loads and the time to finish everything.
 */
export async function affinityFigures(label: string, open: () => Promise<AnvilDatabase>, dir: string): Promise<void> {
  for (const workload of WORKLOADS) await compare(label, open, dir, workload);
}

async function compare(label: string, open: () => Promise<AnvilDatabase>, dir: string, workload: Workload) {
  const results: Run[] = [];
  for (const modelAffinity of [true, false]) {
    const database = await open();
    results.push(await runOnce(database, join(dir, "images"), workload, modelAffinity));
    await database.close();
  }
  const [on, off] = results as [Run, Run];
  const what = `${workload.name}, ${GPUS} simulated GPUs, switch ${SWITCH_MS} ms, generation ~${STEPS * STEP_MS + 3 * STEP_MS} ms`;
  console.log(
    `model affinity, ${what} [${label}]: with affinity ${on.switches} switches, all done in ${on.seconds.toFixed(1)} s ` +
      `(${on.kept} jobs kept a GPU's model, no job passed over more than ${on.maxPasses} times); ` +
      `without ${off.switches} switches in ${off.seconds.toFixed(1)} s; ` +
      `saved ${off.switches - on.switches} switches (${(((off.switches - on.switches) / off.switches) * 100).toFixed(0)}%) ` +
      `and ${(off.seconds - on.seconds).toFixed(1)} s (${(((off.seconds - on.seconds) / off.seconds) * 100).toFixed(0)}%)`,
  );
}

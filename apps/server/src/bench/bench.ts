import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { EventHub, Inspector } from "@anvil/api";
import { makeForgeClient } from "@anvil/forge-client";
import type { ForgeSimulatorOptions, SimulatorLogEntry } from "@anvil/forge-client";
import { DEFAULT_JOB_PARAMS, JobScheduler } from "@anvil/job-machine";
import type { JobParams } from "@anvil/job-machine";
import { createScratchDatabase, JobStore, lockEventOrder, openDatabase } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { Effect } from "effect";
import { readEnv } from "../env";
import { affinityFigures } from "./affinity";
import { benchService } from "./bench-service";
import { clusterDrain } from "./cluster-drain";
import { profiled } from "../testing/cpu-profile";
import { serverNodeArgs } from "../testing/spawn-server";
import { crowd, startServer } from "./crowd";
import type { CrowdClients } from "./crowd";
import { estimateFigures } from "./estimates";
import { fairLineFigures } from "./fair-line";
import { heapPerJob } from "./heap-per-job";
import { imageFigures } from "./images";
import { instantForge } from "./instant-forge";
import { serveSimulatorChild, SIMULATOR_CHILD_FLAG, startSimulatorProcess } from "./simulator-process";
import { report, summarise } from "./stats";
import { submitManyAgainstFloor, webhookLatency } from "./webhooks-bench";

/** This bundle, which `startSimulatorProcess` runs again as a simulator. */
const BENCH_SCRIPT = fileURLToPath(import.meta.url);
const MIGRATIONS = fileURLToPath(new URL("../../../libs/persistence/drizzle", import.meta.url));
/** The smallest job: one step at 64×64, a fixed seed, the other defaults. */
const params: JobParams = { ...DEFAULT_JOB_PARAMS, width: 64, height: 64, steps: 1, seed: 1 };

/** `count` of `items`, a prime stride apart: the picks are spread over the whole line, not bunched at its head. */
function scattered<T>(items: readonly T[], count: number): T[] {
  return Array.from({ length: count }, (_, i) => {
    const item = items[(i * 7919) % items.length];
    if (item === undefined) throw new Error(`nothing to pick from: ${items.length} items`);
    return item;
  });
}

/** Queue position with 10,000 jobs waiting: the scheduler's in-memory line, then the SQL-derived figure. */
async function positions(label: string, store: JobStore): Promise<void> {
  const scheduler = new JobScheduler<null>({
    backends: 1,
    jobTimeoutMs: 60_000,
    generate: () => Effect.never,
    persist: async (entries) => entries.map(() => null),
    publish: () => {},
  });
  const ids = Array.from({ length: 10_000 }, (_, i) => `job-${i}`);
  for (const jobId of ids) scheduler.submit({ jobId, prompt: jobId, params, attempt: 1 });
  const memory: number[] = [];
  for (const id of scattered(ids, 10_000)) {
    const start = performance.now();
    scheduler.position(id);
    memory.push(performance.now() - start);
  }
  report(`queue position, 10,000 queued, scheduler [${label}]`, memory, 100);
  await scheduler.stop();

  const jobs = [];
  // Set up in batches (not measured): 10,000 single submits would take minutes on the embedded database.
  for (let start = 0; start < 10_000; start += 500) {
    const inputs = Array.from({ length: 500 }, (_, i) => ({ prompt: `p${start + i}`, params }));
    for (const result of await store.submitJobs(inputs)) {
      if (result instanceof Error) throw result;
      jobs.push(result.job);
    }
  }
  const sql: number[] = [];
  for (const job of scattered(jobs, 200)) {
    const start = performance.now();
    await store.queuePosition(job.id);
    sql.push(performance.now() - start);
  }
  report(`queue position, 10,000 queued, derived in SQL [${label}]`, sql, 100);
}

/**
 * From the end of one generation to the start of the next, with an instant backend; `inspector` attaches XState
 * inspection (what /inspect and debug.* use) to measure its cost on this hot path. `quiet` runs it as a warm-up.
 */
async function handOver(label: string, inspector?: Inspector, quiet = false): Promise<void> {
  const starts: number[] = [];
  const ends: number[] = [];
  let finished = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const scheduler = new JobScheduler<null>({
    backends: 1,
    healthy: true,
    jobTimeoutMs: 60_000,
    generate: () =>
      Effect.sync(() => {
        starts.push(performance.now());
        return Effect.succeed({ imageUrl: "/x.png", usedSeed: 1 });
      }).pipe(Effect.ensuring(Effect.sync(() => void ends.push(performance.now())))),
    persist: async (entries) => entries.map(() => null),
    publish: (entry) => {
      if (entry.kind === "transition" && entry.to === "complete" && ++finished === 2_000) done();
    },
    ...(inspector ? { inspect: inspector.observe } : {}),
  });
  for (let i = 0; i < 2_000; i++) scheduler.submit({ jobId: `h${i}`, prompt: "x", params, attempt: 1 });
  await all;
  await scheduler.stop();
  if (quiet) return;
  report(
    `GPU lock hand-over, end of one job to start of the next [${label}]`,
    ends.flatMap((end, i) => {
      const next = starts[i + 1];
      return next === undefined ? [] : [next - end];
    }),
    10,
  );
}

/** One deep merge into a message's metadata, persisted. */
async function merge(label: string, store: JobStore): Promise<void> {
  const { job } = await store.submitJob({ prompt: "merge", params });
  const samples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const start = performance.now();
    await store.mergeMessageMetadata(job.messageId, { progress: i % 100, nested: { step: i } });
    samples.push(performance.now() - start);
  }
  report(`message metadata merge, persisted [${label}]`, samples, 50);
}

/**
 * What mirroring each transition into its assistant message's metadata costs (issue 9 asked whether it is worth its
 * writes): a transition's statements (the event-order lock, the job row, the event) in one transaction, with the
 * metadata merge and without it, alternated so that both see the same machine. The web app and `jobs.list` read the
 * job rows, not the metadata; the copy is there for whatever reads the conversation's messages alone.
 */
async function metadataCopy(label: string, database: AnvilDatabase): Promise<void> {
  const store = new JobStore(database);
  const { job } = await store.submitJob({ prompt: "copy", params });
  const snapshot = JSON.stringify({ id: job.id, status: "queued", progress: 0 });
  const patch = JSON.stringify({ status: "queued", progress: 0 });
  // The copy with jsonb_deep_merge (what a patch with nested objects takes), with a shallow `||` (what a transition's
  // flat patch takes, through jsonb_shallow_merge), and no copy.
  const copies = {
    "deep merge": sql`update messages set metadata = jsonb_deep_merge(metadata, ${patch}::jsonb) where id = ${job.messageId}`,
    "shallow ||": sql`update messages set metadata = metadata || ${patch}::jsonb where id = ${job.messageId}`,
    "no copy": null,
  };
  const transition = (copy: ReturnType<typeof sql> | null) =>
    database.db.transaction(async (tx) => {
      await lockEventOrder(tx);
      await tx.execute(
        sql`update jobs set progress = 0, last_event_id = nextval('job_events_id_seq') where id = ${job.id}`,
      );
      if (copy) await tx.execute(copy);
      await tx.execute(
        sql`insert into job_events (id, job_id, conversation_id, status, job) values (currval('job_events_id_seq'), ${job.id}, ${job.conversationId}, 'queued', ${snapshot}::jsonb)`,
      );
    });
  const kinds = Object.keys(copies) as (keyof typeof copies)[];
  const samples: Record<keyof typeof copies, number[]> = { "deep merge": [], "shallow ||": [], "no copy": [] };
  for (let round = 0; round < 400; round++) {
    for (const kind of kinds) {
      const start = performance.now();
      await transition(copies[kind]);
      samples[kind].push(performance.now() - start);
    }
  }
  const none = summarise(samples["no copy"]);
  const parts = kinds.map((kind) => {
    const s = summarise(samples[kind]);
    const extra = kind === "no copy" ? "" : `, +${(100 * (s.median / none.median - 1)).toFixed(0)} %`;
    return `${kind} median ${s.median.toFixed(2)} ms (p99 ${s.p99.toFixed(2)}${extra})`;
  });
  console.log(
    `a transition's writes (lock, job row, event) with the message metadata copy, n=${samples["no copy"].length} each [${label}]: ${parts.join("; ")}`,
  );
}

/** An event hub, and a promise that settles once `total` jobs published their completion through it. */
function completions(total: number): { events: EventHub; all: Promise<void> } {
  const events = new EventHub();
  let finished = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  events.subscribe((m) => {
    if (m.kind === "status" && m.job.status === "complete" && ++finished === total) done();
  });
  return { events, all };
}

/** Jobs per second through submit, scheduler, instant backend, persistence and publishing. */
async function throughput(
  label: string,
  database: AnvilDatabase,
  imagesDir: string,
  inspector?: Inspector,
): Promise<void> {
  const total = 1_000;
  const { events, all } = completions(total);
  const service = await benchService(database, imagesDir, {
    events,
    backends: [instantForge()],
    ...(inspector ? { inspect: inspector.observe } : {}),
  });
  const start = performance.now();
  await Promise.all(Array.from({ length: total }, (_, i) => service.submit({ prompt: `t${i}`, ...params })));
  await all;
  const seconds = (performance.now() - start) / 1000;
  await service.stop();
  console.log(
    `pipeline throughput, instant backend [${label}]: ${(total / seconds).toFixed(0)} jobs/s (${total} jobs in ${seconds.toFixed(2)} s)`,
  );
}

/** What a run against a simulator left: its wall and CPU time, and the simulator's log of the generations in it. */
interface Run {
  seconds: number;
  /** The bench process's CPU time (Anvil's or the loop's; the simulator runs in its own process), in ms. */
  cpuMs: number;
  /** The simulator process's CPU time in the run, in ms. */
  simulatorCpuMs: number;
  log: SimulatorLogEntry[];
}

/** The GPU-busy fraction of a run (work over wall time, first start to last end) and its median gap in ms. */
function busyOf({ log }: Run): { fraction: number; gap: number } {
  const spans = log.filter((e): e is SimulatorLogEntry & { endedAt: number } => e.endedAt !== null);
  const [first] = spans;
  const last = spans.at(-1);
  if (first === undefined || last === undefined) throw new Error("the run left no finished generation in the log");
  const work = spans.reduce((sum, e) => sum + (e.endedAt - e.startedAt), 0);
  const wall = last.endedAt - first.startedAt;
  const gaps = spans
    .flatMap((e, i) => {
      const next = spans[i + 1];
      return next === undefined ? [] : [next.startedAt - e.endedAt];
    })
    .sort((a, b) => a - b);
  return { fraction: work / wall, gap: gaps[Math.floor(gaps.length / 2)] ?? 0 };
}

const median = (values: number[]): number => summarise(values).median;

/**
 * The same backend driven three ways, each figure printed beside two floors: a bare client calling `generate` in a
 * loop (the most any queue in front of it could reach), and the same loop with one committed single-row UPDATE
 * before each call (the most a queue that writes each decision down before it acts, as Anvil must, could reach on
 * this database); then Anvil's whole pipeline. The three take turns for `ROUNDS` rounds, so that a machine that
 * slows down or speeds up during the run weighs on all three alike; each ratio is the median of the rounds' ratios.
 */
async function againstFloor(label: string, database: AnvilDatabase, imagesDir: string, only?: "drain"): Promise<void> {
  const ROUNDS = 3;
  await database.db.execute(sql`create table if not exists bench_decision (id int primary key, n bigint not null)`);
  await database.db.execute(sql`insert into bench_decision values (1, 0) on conflict do nothing`);
  const decide = () => database.db.execute(sql`update bench_decision set n = n + 1 where id = 1`);
  for (const { figure, stepMs, steps, total, encodeMs } of [
    { figure: "drain, simulator with no step time", stepMs: 0, steps: 1, total: 300, encodeMs: 0 },
    // 3 steps and the decode (3 × stepMs) of 17 ms each: a generation of about 100 ms.
    { figure: "GPU busy fraction, ~100 ms generations, line full", stepMs: 17, steps: 3, total: 40, encodeMs: 0 },
    // 6 steps and the decode of 50 ms each, then the PNG encoded after Forge left its lock, as Forge does (a
    // full-size PNG takes it about 100 ms): a client that waits for each answer leaves the GPU idle meanwhile.
    {
      figure: "GPU busy fraction, ~450 ms generations and 100 ms encoding after each, line full",
      stepMs: 50,
      steps: 6,
      total: 16,
      encodeMs: 100,
    },
  ].slice(0, only === "drain" ? 1 : undefined)) {
    // The backend in its own process, as Forge is: its work does not take turns with Anvil's on one thread.
    const sim = await startSimulatorProcess(BENCH_SCRIPT, { stepMs, maxImageSize: 64, encodeMs });
    const bare = makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 1_000_000 });
    const request = { prompt: "floor", ...params, steps, checkpoint: null };
    const timed = async (work: () => Promise<void>, name: string): Promise<Run> => {
      const from = (await sim.stats()).log.length;
      const simulatorCpu = await sim.cpuMs();
      const start = performance.now();
      const cpu = process.cpuUsage();
      await profiled(`${label}-${stepMs}ms-${name}`, work);
      const { user, system } = process.cpuUsage(cpu);
      return {
        seconds: (performance.now() - start) / 1000,
        cpuMs: (user + system) / 1000,
        simulatorCpuMs: (await sim.cpuMs()) - simulatorCpu,
        log: (await sim.stats()).log.slice(from),
      };
    };
    const loop = (before: () => Promise<unknown>, name: string) =>
      timed(async () => {
        for (let i = 0; i < total; i++) {
          await before();
          await Effect.runPromise(bare.generate(request));
        }
      }, name);
    const pipeline = async (round: number): Promise<Run> => {
      const { events, all } = completions(total);
      const service = await benchService(database, imagesDir, {
        events,
        backends: [makeForgeClient({ baseUrl: sim.url })],
        probeIntervalMs: 100,
      });
      await new Promise<void>((resolve) => {
        const check = () => (service.monitor.health()[0]?.healthy ? resolve() : setTimeout(check, 10));
        check();
      });
      // The line full before the clock starts, as the loops' calls are all there to make: the submissions are not
      // the drain's (see the "submissions" figure for them).
      await service.setPaused(true);
      await Promise.all(
        Array.from({ length: total }, (_, i) => service.submit({ prompt: `d${round}-${i}`, ...params, steps })),
      );
      const run = await timed(async () => {
        await service.setPaused(false);
        await all;
      }, `anvil-${round}`);
      await service.stop();
      return run;
    };
    const rounds: { floor: Run; writeAhead: Run; anvil: Run }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      rounds.push({
        floor: await loop(() => Promise.resolve(), `floor-${round}`),
        writeAhead: await loop(decide, `write-ahead-${round}`),
        anvil: await pipeline(round),
      });
    }
    await sim.close();
    // Per round: Anvil's figure, each floor's, and Anvil's ratio to each floor.
    const figureOf = (run: Run) => (stepMs === 0 ? total / run.seconds : busyOf(run).fraction);
    const figures = rounds.map((r) => ({
      anvil: figureOf(r.anvil),
      floor: figureOf(r.floor),
      writeAhead: figureOf(r.writeAhead),
    }));
    const anvil = median(figures.map((f) => f.anvil));
    const floor = median(figures.map((f) => f.floor));
    const writeAhead = median(figures.map((f) => f.writeAhead));
    const toFloor = median(figures.map((f) => f.anvil / f.floor));
    const toWriteAhead = median(figures.map((f) => f.anvil / f.writeAhead));
    const gaps =
      stepMs === 0
        ? ""
        : `; median gaps ${(["anvil", "floor", "writeAhead"] as const).map((k) => median(rounds.map((r) => busyOf(r[k]).gap))).join(", ")} ms`;
    const shown = (value: number) => (stepMs === 0 ? `${value.toFixed(0)}/s` : value.toFixed(3));
    const cpu = (["anvil", "floor", "writeAhead"] as const)
      .map((k) => median(rounds.map((r) => r[k].cpuMs / total)).toFixed(2))
      .join(", ");
    const simulatorCpu = (["anvil", "floor", "writeAhead"] as const)
      .map((k) => median(rounds.map((r) => r[k].simulatorCpuMs / total)).toFixed(2))
      .join(", ");
    console.log(
      `${figure} [${label}], median of ${ROUNDS} alternating rounds: Anvil ${shown(anvil)}; bare client loop ${shown(floor)}, ratio ${toFloor.toFixed(2)}; with a committed write before each call ${shown(writeAhead)}, ratio ${toWriteAhead.toFixed(2)}${gaps}; CPU per job ${cpu} ms (the simulator's ${simulatorCpu} ms)`,
    );
  }
}

/**
 * Submissions from 16 concurrent callers through the job service (persisted, queued, announced), beside the floor:
 * single-row INSERTs from 16 concurrent callers through the same database connection pool. The two take turns for
 * a round to warm up and five counted rounds (each ratio the median of the rounds'); then Anvil once more behind a
 * line of every job submitted so far (at least 10,000), all waiting.
 */
async function submissionsAgainstFloor(label: string, database: AnvilDatabase, imagesDir: string): Promise<void> {
  // Rounds of 6,400 calls: at 1,600 a round (a third of a second) the ratio swung 0.50–0.71 from round to round.
  const ROUNDS = 5;
  const callers = 16;
  const each = 400;
  const run = async (call: (caller: number, i: number) => Promise<unknown>): Promise<number> => {
    const start = performance.now();
    await Promise.all(
      Array.from({ length: callers }, async (_, caller) => {
        for (let i = 0; i < each; i++) await call(caller, i);
      }),
    );
    return (callers * each) / ((performance.now() - start) / 1000);
  };
  await database.db.execute(
    sql`create table if not exists bench_floor (id bigserial primary key, prompt text not null, params jsonb not null)`,
  );
  const json = JSON.stringify(params);
  // No backend answers, so every job stays queued: this measures accepting work, not running it.
  const service = await benchService(database, imagesDir);
  const rounds: { floor: number; anvil: number }[] = [];
  // Round 0 warms both up and is not counted: the floor's short path gains more from the JIT than Anvil's does
  // (the first round's ratio came out 0.1–0.4 above the later rounds').
  for (let round = 0; round <= ROUNDS; round++) {
    const floor = await run((caller, i) =>
      database.db.execute(
        sql`insert into bench_floor (prompt, params) values (${`f${round}-${caller}-${i}`}, ${json}::jsonb)`,
      ),
    );
    const anvil = await run((caller, i) => service.submit({ prompt: `s${round}-${caller}-${i}`, ...params }));
    if (round > 0) rounds.push({ floor, anvil });
  }
  await service.stop();
  // Behind a long line of waiting jobs: what a submission costs must not grow with the line.
  const store = new JobStore(database);
  const waiting = (ROUNDS + 1) * callers * each;
  const LINE = Math.max(10_000, waiting);
  for (let i = waiting; i < LINE; i += 250) {
    await store.submitJobs(Array.from({ length: 250 }, (_, k) => ({ prompt: `w${i + k}`, params })));
  }
  const behind = await benchService(database, imagesDir);
  const behindLine = await run((caller, i) => behind.submit({ prompt: `l${caller}-${i}`, ...params }));
  await behind.stop();
  const ratios = rounds.map((r) => r.anvil / r.floor);
  console.log(
    `submissions, ${callers} concurrent callers [${label}], median of ${ROUNDS} alternating rounds after one to warm up: Anvil ${median(rounds.map((r) => r.anvil)).toFixed(0)}/s, single-row INSERTs ${median(rounds.map((r) => r.floor)).toFixed(0)}/s, ratio ${median(ratios).toFixed(2)} (rounds: ${ratios.map((r) => r.toFixed(2)).join(", ")}); behind ${LINE.toLocaleString("en")} waiting jobs: Anvil ${behindLine.toFixed(0)}/s`,
  );
}

const FIGURES = [
  "positions",
  "merge",
  "metadata copy",
  "throughput",
  "throughput inspected",
  "floors",
  "drain",
  "submissions",
  "subscribers",
  "subscribers through tRPC clients",
  "submitMany",
  "webhooks",
  "memory per waiting job",
  "images",
] as const;

async function onDatabase(
  label: string,
  open: () => Promise<AnvilDatabase>,
  dir: string,
  figures: readonly (typeof FIGURES)[number][],
): Promise<void> {
  for (const figure of figures) {
    if (figure === "subscribers" || figure === "subscribers through tRPC clients") {
      // The built server in its own process, so its memory and CPU time are its own.
      await subscribers(label, open, dir, figure === "subscribers" ? "wire" : "trpc");
      continue;
    }
    // A fresh database per figure keeps one figure's 10,000 rows out of the next one's numbers.
    const database = await open();
    const store = new JobStore(database);
    if (figure === "positions") await positions(label, store);
    if (figure === "merge") await merge(label, store);
    if (figure === "metadata copy") await metadataCopy(label, database);
    if (figure === "throughput") await throughput(label, database, join(dir, "images"));
    if (figure === "floors") await againstFloor(label, database, join(dir, "images"));
    if (figure === "drain") await againstFloor(label, database, join(dir, "images"), "drain");
    if (figure === "submissions") await submissionsAgainstFloor(label, database, join(dir, "images"));
    if (figure === "submitMany") await submitManyAgainstFloor(label, database, join(dir, "images"), params);
    if (figure === "webhooks") await webhookLatency(label, database, params);
    if (figure === "memory per waiting job") await heapPerJob(label, database, join(dir, "images"), params);
    if (figure === "images") await imageFigures(label, database, join(dir, `images-${label}`), params);
    if (figure === "throughput inspected") {
      await throughput(`${label}, inspection on`, database, join(dir, "images"), new Inspector());
    }
    await database.close();
  }
}

/** The crowd figures against `node dist/main.js` on a fresh database of this kind. */
async function subscribers(
  label: string,
  open: () => Promise<AnvilDatabase>,
  dir: string,
  clients: CrowdClients,
): Promise<void> {
  const database = await open();
  const url = "url" in database && typeof database.url === "string" ? database.url : undefined;
  const dataDir = join(dir, `serve-${label}-${clients}`);
  // PGlite belongs to one process: the server opens its own; the scratch PostgreSQL database is handed over.
  if (database.kind === "pglite") await database.close();
  const server = await startServer(dataDir, url);
  try {
    await crowd(label, server, clients);
  } finally {
    // A profiled server writes its profile only when it exits by itself.
    await server.kill(serverNodeArgs().length > 0 ? "SIGTERM" : "SIGKILL");
    if (database.kind === "postgres") await database.close();
  }
}

async function main(): Promise<void> {
  const env = readEnv();
  // `npm run bench -- throughput merge` measures only those figures (and the hand-over unless left out).
  // `--postgres-only` leaves the embedded database's runs out (with DATABASE_URL set).
  const postgresOnly = process.argv.includes("--postgres-only");
  const asked = process.argv.slice(2).filter((arg) => arg !== "--postgres-only");
  const wanted = <T extends string>(figure: T) => asked.length === 0 || asked.some((a) => figure.startsWith(a));
  // "drain" is the first row of "floors" alone (to profile it): only when asked for.
  const figures = FIGURES.filter(wanted).filter((figure) => figure !== "drain" || asked.length > 0);
  const dir = await mkdtemp(join(tmpdir(), "anvil-bench-"));
  try {
    if (wanted("fair line")) fairLineFigures();
    if (wanted("estimates")) estimateFigures();
    if (wanted("hand-over")) {
      // A warm-up first, so that neither measured run pays for the JIT alone.
      await handOver("warm-up", undefined, true);
      await handOver("in memory");
      await handOver("in memory, inspection on", new Inspector());
    }
    let n = 0;
    const pglite = () => openDatabase({ dataDir: join(dir, `pglite-${n++}`), migrationsFolder: MIGRATIONS });
    // Switches saved by model affinity: the scheduler's doing, so on the embedded database alone.
    if (wanted("affinity") && !postgresOnly) await affinityFigures("pglite", pglite, dir);
    if (!postgresOnly) await onDatabase("pglite", pglite, dir, figures);
    const url = env.DATABASE_URL;
    if (url) {
      await onDatabase("postgres", () => scratchPostgres(url), dir, figures);
      if (wanted("cluster")) {
        await clusterDrain(
          () => createScratchDatabase(url, { prefix: "anvil_bench", takeOverWhenNotPermitted: false }),
          (name) => join(dir, name),
        );
      }
    } else {
      console.log("postgres: skipped (set DATABASE_URL to a PostgreSQL server's database to measure it too)");
    }
  } finally {
    // Retried: a server killed a moment ago may still be leaving files behind.
    await rm(dir, { recursive: true, force: true, maxRetries: 5 }).catch((error: unknown) =>
      console.error(`could not remove ${dir}: ${String(error)}`),
    );
  }
}

/**
 * A new database beside DATABASE_URL's for each figure, dropped when the figure is done: the benchmark never
 * writes to the database DATABASE_URL names, which may hold real jobs.
 */
async function scratchPostgres(url: string): Promise<AnvilDatabase & { url: string }> {
  const scratch = await createScratchDatabase(url, { prefix: "anvil_bench", takeOverWhenNotPermitted: false });
  const database = await openDatabase({ url: scratch.url, migrationsFolder: MIGRATIONS });
  return {
    ...database,
    url: scratch.url,
    close: async () => {
      await database.close();
      await scratch.drop();
    },
  };
}

if (process.argv[2] === SIMULATOR_CHILD_FLAG) {
  void serveSimulatorChild(JSON.parse(process.argv[3] ?? "{}") as ForgeSimulatorOptions);
} else {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

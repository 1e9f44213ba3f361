import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { WebhookDispatcher } from "@anvil/api";
import type { JobParams } from "@anvil/job-machine";
import { JobStore, toJob, WebhookStore } from "@anvil/persistence";
import type { AnvilDatabase } from "@anvil/persistence";
import { sql } from "drizzle-orm";
import { benchService } from "./bench-service";
import { summarise } from "./stats";

const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * `jobs.submitMany` of 1,000 jobs through the job service (one transaction: conversations, messages, jobs and
 * events, then queued and announced), beside its floor: one raw multi-row INSERT of 1,000 rows of the same size.
 */
export async function submitManyAgainstFloor(
  label: string,
  database: AnvilDatabase,
  imagesDir: string,
  params: JobParams,
): Promise<void> {
  const rounds = 7;
  const size = 1_000;
  await database.db.execute(
    sql`create table if not exists bench_floor (id bigserial primary key, prompt text not null, params jsonb not null)`,
  );
  const json = JSON.stringify(params);
  const floor: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const values = sql.join(
      Array.from({ length: size }, (_, i) => sql`(${`floor ${round}-${i}`}, ${json}::jsonb)`),
      sql`, `,
    );
    const start = performance.now();
    await database.db.execute(sql`insert into bench_floor (prompt, params) values ${values}`);
    floor.push(performance.now() - start);
  }
  // No backend answers, so every job stays queued: this measures accepting work, not running it.
  const service = await benchService(database, imagesDir);
  // The transaction alone (what the database does), to tell it apart from taking the jobs into the line.
  const store = new JobStore(database);
  const stored: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const inputs = Array.from({ length: size }, (_, i) => ({ prompt: `stored ${round}-${i}`, params }));
    const start = performance.now();
    await store.submitJobsAtomically(inputs);
    stored.push(performance.now() - start);
  }
  const anvil: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const jobs = Array.from({ length: size }, (_, i) => ({ prompt: `many ${round}-${i}`, ...params }));
    const start = performance.now();
    await service.submitMany(jobs);
    anvil.push(performance.now() - start);
  }
  await service.stop();
  const a = summarise(anvil);
  const t = summarise(stored);
  const f = summarise(floor);
  console.log(
    `submitMany, 1,000 jobs [${label}]: Anvil median ${ms(a.median)}, p99 ${ms(a.p99)} (its transaction alone ${ms(t.median)}); raw multi-row INSERT median ${ms(f.median)}, p99 ${ms(f.p99)}; ratio ${(f.median / a.median).toFixed(2)}, n=${rounds}`,
  );
}

/**
 * Webhook delivery latency: from the commit of a job's final transition (its outbox row in the same transaction)
 * to the receiver holding the POST, one delivery at a time, through the dispatcher woken as the server wakes it.
 */
export async function webhookLatency(label: string, database: AnvilDatabase, params: JobParams): Promise<void> {
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    req.resume().on("end", () => {
      arrivals.set(String(req.headers["x-anvil-event-id"]), performance.now());
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const store = new JobStore(database);
  const webhooks = new WebhookStore(database);
  const dispatcher = new WebhookDispatcher({ store: webhooks, secret: "a bench secret, 16+ chars" });
  dispatcher.start();
  const latencies: number[] = [];
  const snapshot = (record: Parameters<typeof toJob>[0]) => toJob(record, 0);
  for (let i = 0; i < 200; i++) {
    const { job } = await store.submitJob({ prompt: `hook ${i}`, params, callbackUrl: url });
    await store.applyTransition({ jobId: job.id, from: "queued", to: "processing", snapshot });
    const before = arrivals.size;
    await store.applyTransition({ jobId: job.id, from: "processing", to: "complete", snapshot });
    const committed = performance.now();
    dispatcher.wake();
    while (arrivals.size === before) await new Promise((resolve) => setImmediate(resolve));
    const arrived = [...arrivals.values()].at(-1);
    if (arrived === undefined) throw new Error("the receiver counted a delivery it did not keep");
    latencies.push(arrived - committed);
  }
  await dispatcher.stop();
  receiver.close();
  const { median, p99 } = summarise(latencies);
  console.log(
    `webhook delivery, final transition committed to receiver [${label}]: median ${ms(median)}, p99 ${ms(p99)}, n=${latencies.length}`,
  );
}

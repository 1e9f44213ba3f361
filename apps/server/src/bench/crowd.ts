import { get } from "node:http";
import type { ClientRequest } from "node:http";
import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { AppRouter } from "@anvil/api";
import type { LineEvent } from "@anvil/job-machine";
import { createTRPCClient, createWSClient, httpLink, httpSubscriptionLink, wsLink } from "@trpc/client";
import type { TRPCClient } from "@trpc/client";
import { EventSource } from "eventsource";
import WebSocket from "ws";
import { spawnScript } from "../testing/spawn-server";
import type { ServerProcess } from "../testing/spawn-server";
import { summarise } from "./stats";

/** The built server, beside this bundle (dist/bench.js → dist/main.js). */
const SERVER = fileURLToPath(new URL("./main.js", import.meta.url));
const SMALL = { steps: 1, width: 64, height: 64 } as const;
/** Linux clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every common kernel). */
const TICKS = 100;

/** Resident memory of a process, in MB (Linux /proc). */
async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** CPU time a process has used so far, in ms (user + system, Linux /proc). */
async function cpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  // The fields after the command name, which is in parentheses and may hold ") " itself: proc(5) says to look
  // for the last one.
  const end = stat.lastIndexOf(") ");
  if (end < 0) throw new Error(`/proc/${pid}/stat has no command name in parentheses: ${stat}`);
  const fields = stat.slice(end + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `call`, again (up to 5 times) when the connection failed: on a loaded 2-core machine a connect can time out. */
const again = async <T>(call: () => Promise<T>, tries = 5): Promise<T> => {
  try {
    return await call();
  } catch (error) {
    if (tries <= 1) throw error;
    await settle(200);
    return again(call, tries - 1);
  }
};

/** Submits `count` small jobs in batches of 50 calls (what one request may carry); returns their ids in order. */
export async function fill(url: string, count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const n = Math.min(50, count - start);
    const reply = await again(() =>
      fetch(`${url}/trpc/${Array.from({ length: n }, () => "jobs.submit").join(",")}?batch=1`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(
          Object.fromEntries(
            Array.from({ length: n }, (_, i) => [
              i,
              { prompt: `${label} ${start + i}`, idempotencyKey: `${label}-${start + i}`, ...SMALL },
            ]),
          ),
        ),
      }),
    );
    const body = (await reply.json()) as { result?: { data: { id: string } }; error?: { message: string } }[];
    for (const call of body) {
      if (!call.result) throw new Error(`a submission was refused: ${call.error?.message ?? "no reason given"}`);
      ids.push(call.result.data.id);
    }
  }
  return ids;
}

/** Starts the built server on `databaseUrl` (or PGlite in `dataDir`), with the simulator's slow steps: the line stays. */
export const startServer = (dataDir: string, databaseUrl?: string): Promise<ServerProcess> =>
  spawnScript(
    SERVER,
    {
      DATA_DIR: dataDir,
      ANVIL_SIMULATOR_STEP_MS: "60000",
      // As `npm run serve` starts it: without NODE_ENV, inspection is on.
      ANVIL_INSPECT: "1",
      // One user (local) submits every job of the bench: no per-user quota.
      MAX_QUEUED_PER_USER: "0",
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    120_000,
  );

/**
 * Idle RSS of a fresh server, then with 2,000 jobs waiting and 1,000 unfiltered subscribers (half SSE, half WebSocket
 * over 50 sockets): for each of `changes` head changes (the first waiting job cancelled), the time until every
 * subscriber has its line event, queue.status latency meanwhile, and the server's CPU time per change. Then RSS per
 * waiting job with 10,000 waiting.
 */
export async function crowd(label: string, server: ServerProcess, clients: CrowdClients): Promise<void> {
  try {
    await measureCrowd(label, server, clients, 20);
  } catch (error) {
    console.error(`the crowd figures failed [${label}]; the server's stderr: ${server.stderr().slice(-2000)}`);
    throw error;
  }
}

async function measureCrowd(
  label: string,
  server: ServerProcess,
  clients: CrowdClients,
  changes: number,
): Promise<void> {
  const { url, pid } = server;
  await settle(2_000);
  const idle = await rssMb(pid);
  console.log(`idle RSS, fresh server, nothing waiting [${label}]: ${idle.toFixed(0)} MB`);

  const waiting = 2_000;
  const ids = await fill(url, waiting, "crowd");
  const trpc: TRPCClient<AppRouter> = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url}/trpc` })] });
  const subscribers = 1_000;
  const crowd = await (clients === "wire" ? wireSubscribers : trpcSubscribers)(url, subscribers);
  const lineArrivals = crowd.arrivals;

  const reach: number[] = [];
  const status: number[] = [];
  let measuring = true;
  const poll = (async () => {
    while (measuring) {
      const start = performance.now();
      await again(() => trpc.queue.status.query());
      status.push(performance.now() - start);
      await settle(20);
    }
  })();
  const cpuBefore = await cpuMs(pid);
  const ownBefore = process.cpuUsage();
  // ids[0] holds the GPU; each change cancels the head of the line, the job after the last one cancelled.
  const heads = ids.slice(1, 1 + changes);
  if (heads.length < changes) {
    throw new Error(`${changes} changes of the line need ${changes + 1} jobs, not ${ids.length}`);
  }
  for (const head of heads) {
    const seen = lineArrivals.map((arrivals) => ({ arrivals, before: arrivals.length }));
    const start = performance.now();
    await again(() => trpc.jobs.cancel.mutate({ jobId: head }));
    const until = Date.now() + 30_000;
    while (seen.some(({ arrivals, before }) => arrivals.length <= before) && Date.now() < until) await settle(5);
    reach.push(Math.max(...seen.map(({ arrivals, before }) => (arrivals[before] ?? Number.POSITIVE_INFINITY) - start)));
  }
  const cpu = ((await cpuMs(pid)) - cpuBefore) / changes;
  const own = process.cpuUsage(ownBefore);
  const clientCpu = (own.user + own.system) / 1000 / changes;
  measuring = false;
  await poll;
  const r = summarise(reach);
  const s = summarise(status);
  console.log(
    `head change to every subscriber, ${waiting} waiting, ${subscribers} unfiltered subscribers (${subscribers / 2} SSE, ${subscribers / 2} WebSocket on ${SOCKETS} sockets; ${CLIENTS[clients]}) [${label}]: median ${r.median.toFixed(0)} ms, p99 ${r.p99.toFixed(0)} ms, n=${reach.length} changes (aim p99 < 250 ms)`,
  );
  console.log(
    `queue.status while the line changes, same load [${label}]: median ${s.median.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, n=${status.length} (aim p99 < 50 ms)`,
  );
  console.log(
    `server CPU time per head change, same load [${label}]: ${cpu.toFixed(1)} ms (includes the cancel call and the queue.status polls); the bench's own ${subscribers} clients: ${clientCpu.toFixed(1)} ms`,
  );
  // The memory figures once, with the crowd that reads the wire.
  if (clients !== "wire") return;
  await crowd.close();
  await settle(1_000);

  const withWaiting = await rssMb(pid);
  await fill(url, 10_000 - (waiting - changes), "memory");
  await settle(2_000);
  const full = await rssMb(pid);
  console.log(
    `RSS with 10,000 waiting [${label}]: ${full.toFixed(0)} MB; per waiting job ${(((full - idle) * 1024 * 1024) / 10_000 / 1024).toFixed(1)} KB over the idle server (with ${waiting - changes} waiting: ${withWaiting.toFixed(0)} MB, after 1,000 subscribers came and went)`,
  );
}

/** Which clients the crowd is made of (see {@link crowd}). */
export type CrowdClients = "wire" | "trpc";

const CLIENTS: Record<CrowdClients, string> = {
  wire: "clients that read the wire",
  trpc: "tRPC's own clients",
};

/** How many WebSocket connections carry the crowd's WebSocket half. */
const SOCKETS = 50;

/** A crowd of unfiltered `jobs.events` subscribers: when each got a line event, and how to end them all. */
interface Crowd {
  /** Per subscriber, when each line event arrived (performance.now()). */
  arrivals: number[][];
  close(): Promise<void>;
}

/** Waits until `count()` reaches `n` (2 minutes at most). */
async function allStarted(count: () => number, n: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (count() < n && Date.now() < deadline) await settle(50);
  if (count() < n) throw new Error(`only ${count()} of ${n} subscriptions started`);
}

/**
 * Subscribers through tRPC's own links (httpSubscriptionLink with the eventsource package, wsLink), as a service
 * would subscribe: each event is parsed and handed on. In one process beside the server on a small machine, their
 * own CPU time is part of what is measured.
 */
async function trpcSubscribers(url: string, n: number): Promise<Crowd> {
  const sse = createTRPCClient<AppRouter>({ links: [httpSubscriptionLink({ url: `${url}/trpc`, EventSource })] });
  const sockets = Array.from({ length: SOCKETS }, () =>
    createWSClient({
      url: `${url.replace(/^http/, "ws")}/trpc`,
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    }),
  );
  const wsClients = sockets.map((client) => createTRPCClient<AppRouter>({ links: [wsLink({ client })] }));
  const arrivals: number[][] = [];
  let started = 0;
  const subscriptions: { unsubscribe(): void }[] = [];
  for (let i = 0; i < n; i++) {
    const mine: number[] = [];
    arrivals.push(mine);
    const client = i % 2 === 0 ? sse : wsClients[(i >> 1) % wsClients.length];
    if (client === undefined) throw new Error("no WebSocket client to subscribe through");
    subscriptions.push(
      client.jobs.events.subscribe(
        {},
        {
          onStarted: () => void started++,
          onData: ({ data }) => {
            if ((data as LineEvent).kind === "line") mine.push(performance.now());
          },
        },
      ),
    );
    // wsLink sends one tick's calls as one message, at most 50 of them.
    if (i % 50 === 49) await settle(200);
  }
  await allStarted(() => started, n);
  return {
    arrivals,
    close: async () => {
      for (const subscription of subscriptions) subscription.unsubscribe();
      for (const socket of sockets) await socket.close();
    },
  };
}

const LINE_EVENT = '"kind":"line"';

/**
 * Subscribers that speak the same protocols (an SSE GET, tRPC's WebSocket messages) and only look for a line
 * event in what arrives, without parsing it: on a 2-core machine the crowd's own CPU time would otherwise be half
 * of what is measured, while a real crowd's clients are a thousand other machines.
 */
async function wireSubscribers(url: string, n: number): Promise<Crowd> {
  const arrivals: number[][] = Array.from({ length: n }, () => []);
  let started = 0;
  const requests: ClientRequest[] = [];
  const sockets: WebSocket[] = [];
  const sseUrl = `${url}/trpc/jobs.events?input=${encodeURIComponent("{}")}`;
  const perSocket = n / 2 / SOCKETS;
  for (let s = 0; s < SOCKETS; s++) {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`);
    sockets.push(socket);
    socket.on("open", () => {
      const calls = Array.from({ length: perSocket }, (_, k) => ({
        id: 2 * (s * perSocket + k) + 1,
        method: "subscription",
        params: { input: {}, path: "jobs.events" },
      }));
      socket.send(JSON.stringify(calls));
    });
    socket.on("message", (data) => {
      const text = String(data);
      const id = Number(/^\{"id":(\d+)/.exec(text)?.[1]);
      if (text.includes('"type":"started"')) started++;
      else if (text.includes(LINE_EVENT)) arrivals[id]?.push(performance.now());
    });
  }
  for (const [i, mine] of arrivals.entries()) {
    // The even subscribers are the Server-Sent Events ones; the odd ones are on the sockets above.
    if (i % 2 === 1) continue;
    let buffer = "";
    requests.push(
      get(sseUrl, { headers: { accept: "text/event-stream" } }, (res) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffer += chunk;
          let end: number;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (event.includes("event: connected")) started++;
            else if (event.includes(LINE_EVENT)) mine.push(performance.now());
          }
        });
      }),
    );
    if (i % 100 === 98) await settle(100);
  }
  await allStarted(() => started, n);
  return {
    arrivals,
    close: async () => {
      for (const request of requests) request.destroy();
      for (const socket of sockets) socket.close();
      await settle(100);
    },
  };
}

import { fork } from "node:child_process";
import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulatorOptions, SimulatorStats } from "@anvil/forge-client";

/** The flag that makes the bench's own script serve a simulator instead of measuring. */
export const SIMULATOR_CHILD_FLAG = "--forge-simulator-child";

/** A Forge simulator in a process of its own, as a real Forge runs beside (not inside) the queue in front of it. */
export interface SimulatorProcess {
  readonly url: string;
  /** The simulator's counters and log of generations (its clock, not this process's). */
  stats(): Promise<SimulatorStats>;
  /** The simulator process's CPU time so far, in ms. */
  cpuMs(): Promise<number>;
  close(): Promise<void>;
}

type Request = { id: number; ask: "stats" | "cpu" | "close" };
type Reply = { id: number; stats?: SimulatorStats; cpuMs?: number };
/** The child's first message: where it listens. */
type Ready = { url: string };

/**
 * Starts `script` (the bench's own bundle) as a simulator with `options`: in its own process, so that its work (the
 * image it renders and encodes, its HTTP server) runs beside the process measured, not on its thread.
 */
export async function startSimulatorProcess(script: string, options: ForgeSimulatorOptions): Promise<SimulatorProcess> {
  const child = fork(script, [SIMULATOR_CHILD_FLAG, JSON.stringify(options)], { stdio: "inherit" });
  const pending = new Map<number, (reply: Reply) => void>();
  let next = 0;
  const url = await new Promise<string>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the simulator process exited (${code}) before it listened`)));
    child.once("message", (ready: Ready) => resolve(ready.url));
  });
  child.removeAllListeners("exit");
  child.on("message", (reply: Reply) => {
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  const ask = (what: Request["ask"]) =>
    new Promise<Reply>((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      child.send({ id, ask: what } satisfies Request);
    });
  return {
    url,
    stats: async () => {
      const { stats } = await ask("stats");
      if (stats === undefined) throw new Error("the simulator process answered a stats request without its stats");
      return stats;
    },
    cpuMs: async () => {
      const { cpuMs } = await ask("cpu");
      if (cpuMs === undefined) throw new Error("the simulator process answered a CPU time request without it");
      return cpuMs;
    },
    close: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await ask("close");
      await exited;
    },
  };
}

/** The child's side: serves a simulator with the options given on the command line until told to close. */
export async function serveSimulatorChild(options: ForgeSimulatorOptions): Promise<void> {
  const send = process.send?.bind(process);
  // Checked before the simulator listens, so that a run by hand does not leave one behind.
  if (send === undefined) {
    throw new Error(`${SIMULATOR_CHILD_FLAG}: no parent to answer (startSimulatorProcess forks it)`);
  }
  const sim = await startForgeSimulator(options);
  const reply = (message: Reply | Ready) => send(message);
  process.on("message", (request: Request) => {
    if (request.ask === "stats") reply({ id: request.id, stats: sim.stats() });
    if (request.ask === "cpu") {
      const { user, system } = process.cpuUsage();
      reply({ id: request.id, cpuMs: (user + system) / 1000 });
    }
    if (request.ask === "close") {
      void sim.close().then(() => {
        reply({ id: request.id });
        process.disconnect();
      });
    }
  });
  // The parent gone (killed, crashed): so is its simulator.
  process.on("disconnect", () => void sim.close().then(() => process.exit(0)));
  reply({ url: sim.url });
}

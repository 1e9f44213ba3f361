/**
 * A Forge stand-in: a real HTTP server with the `/sdapi/v1` calls Anvil uses, for `npm start` without a GPU, tests and e2e.
 *
 * Like Forge it serialises generations with a FIFO lock, keeps generating after its client disconnects, stops only on
 * POST /interrupt (the pending txt2img then answers `images: []`), and ignores an unknown `override_settings` checkpoint.
 * Images are small real PNGs whose pixels follow from prompt + seed, capped at `maxImageSize` on the long side.
 *
 * Faults, triggered by a token in the prompt or by `injectFault(fault, count)` for the next `count` txt2img calls:
 *   sim:oom      HTTP 500 { error: "OutOfMemoryError", errors: "CUDA out of memory. Tried to allocate 2.00 GiB …" }
 *   sim:500      HTTP 500 { error: "RuntimeError", errors: "simulated failure" }
 *   sim:422      HTTP 422 FastAPI { detail: [{ loc: ["body", "steps"], msg, type }] }, answered at once
 *   sim:drop     destroys the connection halfway through sampling; the generation itself runs on, as in Forge
 *   sim:nonjson  HTTP 200 with an HTML page, answered at once
 *   sim:noimage  generates, then answers 200 with `images: []`
 *   sim:hang     holds the GPU without progress until interrupted, then answers `images: []`
 *   sim:slow     every step takes 10 × stepMs
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SimulatorEngine } from "./engine";
import type { SimulatorFault } from "./faults";
import { DEFAULT_MODELS, simulatedModel } from "./models";
import { handleRequest } from "./routes";
import type { SimulatorStats } from "./stats";

/** Settings of `startForgeSimulator`. */
export interface ForgeSimulatorOptions {
  /** Default 0: any free port. */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Time per sampling step. Default 100. */
  readonly stepMs?: number;
  /** Time to load another checkpoint. Default 300. */
  readonly modelLoadMs?: number;
  /** Cap of the image's long side; the aspect ratio is kept. Default 256. */
  readonly maxImageSize?: number;
  /** Model names, e.g. "flux1-dev"; the first is loaded at start. */
  readonly models?: readonly string[];
}

/** A running simulator. */
export interface ForgeSimulator {
  /** Base URL, e.g. "http://127.0.0.1:43123". */
  readonly url: string;
  /** Stops all work and the server. */
  close(): Promise<void>;
  /** Counters and a log of every generation. */
  stats(): SimulatorStats;
  /** Makes the next `count` txt2img calls act out `fault`. */
  injectFault(fault: SimulatorFault, count?: number): void;
  /** Changes the time per step, from the next step on. */
  setStepMs(ms: number): void;
  /** Pretends another client runs a generation (holding the FIFO lock) until `setBusy(false)` or an interrupt. */
  setBusy(busy: boolean): void;
  /** Offline: the port is closed and open connections are destroyed (clients see Forge as unreachable); work goes on. */
  setOffline(offline: boolean): Promise<void>;
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });

const stopListening = (server: Server) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Keep-alive sockets would otherwise keep answering while "offline".
    server.closeAllConnections();
  });

/** Starts a Forge simulator on a real port. */
export async function startForgeSimulator(options: ForgeSimulatorOptions = {}): Promise<ForgeSimulator> {
  const host = options.host ?? "127.0.0.1";
  const models = (options.models ?? DEFAULT_MODELS).map(simulatedModel);
  const first = models[0];
  if (!first) throw new RangeError("The simulator needs at least one model");
  const settings = {
    stepMs: options.stepMs ?? 100,
    modelLoadMs: options.modelLoadMs ?? 300,
    maxImageSize: options.maxImageSize ?? 256,
  };
  const engine = new SimulatorEngine(settings, models, first);
  const faults: SimulatorFault[] = [];
  const ctx = {
    engine,
    options: { sd_model_checkpoint: first.title, samples_format: "png", CLIP_stop_at_last_layers: 1 },
    takeFault: () => faults.shift(),
  };
  const server = createServer((req, res) => {
    handleRequest(ctx, req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end();
    });
  });
  await listen(server, options.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  let offline = false;
  let busy: { done: boolean } | null = null;

  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    stats: () => engine.recorder.snapshot(),
    injectFault: (fault, count = 1) => {
      for (let i = 0; i < count; i++) faults.push(fault);
    },
    setStepMs: (ms) => {
      settings.stepMs = ms;
    },
    setBusy: (on) => {
      if (busy) busy.done = true;
      busy = null;
      if (!on) return;
      const token = { done: false };
      busy = token;
      const params = {
        prompt: "(another client's generation)",
        negativePrompt: "",
        width: 64,
        height: 64,
        steps: 1,
        seed: -1,
        sampler: "Euler",
        scheduler: "Simple",
        cfgScale: 1,
        checkpoint: null,
        restoreAfterwards: true,
      };
      void engine.run({ params, fault: "hang", external: true, until: () => token.done });
    },
    setOffline: async (off) => {
      if (off === offline) return;
      offline = off;
      await (off ? stopListening(server) : listen(server, port, host));
    },
    close: async () => {
      faults.length = 0;
      if (busy) busy.done = true;
      engine.close();
      if (!offline) await stopListening(server);
    },
  };
}

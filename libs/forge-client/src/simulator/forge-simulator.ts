/**
 * A Forge stand-in: a real HTTP server with the `/sdapi/v1` calls Anvil uses, for `npm start` without a GPU, tests and e2e.
 * It behaves as Forge's source does (the README's "Pointing Anvil at a real Forge" lists what a user meets):
 *
 * - generations are serialised by a FIFO lock, go on after their client disconnects, and stop only on POST /interrupt;
 * - a job first sets up and loads what is selected (`job_count` -1, progress 0.01; `modelLoadMs` when the checkpoint or
 *   its modules change); an interrupt cannot cut a load short and takes effect when sampling would begin (no image);
 *   interrupted or skipped mid-sampling, the pending txt2img answers 200 with the unfinished image, and
 *   `state.interrupted` / `skipped` stay set until the next job begins;
 * - an unknown `override_settings` checkpoint is ignored ("file [shorthash]" is unknown for an `unhashedModels` file); with `override_settings_restore_afterwards: false` the override
 *   stays selected; POST /options only selects; a `modularModels` checkpoint without `forge_additional_modules` fails to
 *   load (500 AssertionError) and stays selected, so the next jobs fail too;
 * - the image is encoded after the generation has left the lock (`encodeMs`): `/progress` is idle and the next request
 *   may start while the previous reply is still being made; a job reports idle `cleanupMs` before it leaves the lock;
 * - `/progress` says what runs in `state.job`: `scripts_txt2img` for an API request, a `task(…)` id for another
 *   client's work (`setBusy`, as from Forge's own UI);
 * - failures are HTTP 500 `{ error, detail, body, message }`; `auth` puts HTTP Basic on every /sdapi route it has (401; another path is a 404);
 *   `samples_format` jpg / webp makes the images JPEG / WebP; `ignoreCheckpointOverride` acts out an old build;
 *   `automatic1111` acts out AUTOMATIC1111, which has no /sd-modules and fails on `forge_additional_modules`.
 *
 * Faults, triggered by a token in the prompt or by `injectFault(fault, count)` for the next `count` txt2img calls:
 *   sim:oom      HTTP 500 { error: "OutOfMemoryError", message: "CUDA out of memory. Tried to allocate 2.00 GiB …" }
 *   sim:vaeoom   the same out-of-memory 500, but in the VAE decode after every step (idle is reported before it)
 *   sim:500      HTTP 500 { error: "RuntimeError", message: "simulated failure" }
 *   sim:422      HTTP 422 FastAPI { detail: [{ loc: ["body", "steps"], msg, type }] }, answered at once
 *   sim:drop     destroys the connection halfway through sampling; the generation itself runs on, as in Forge
 *   sim:nonjson  HTTP 200 with an HTML page, answered at once
 *   sim:noimage  generates, then answers 200 with `images: []`
 *   sim:hang     holds the GPU without progress until interrupted, then answers `images: []`
 *   sim:slow     every step takes 10 × stepMs
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SimulatorEngine, sleep } from "./engine";
import type { ExternalSource } from "./engine";
import type { SimulatorFault } from "./faults";
import { DEFAULT_MODELS, DEFAULT_MODULES, simulatedModel, simulatedModule } from "./models";
import { handleRequest } from "./routes";
import type { SimulatorStats } from "./stats";

/** Settings of `startForgeSimulator`. */
export interface ForgeSimulatorOptions {
  /** Default: a free port below the system's ephemeral range (see {@link listenBelowEphemeral}). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Time per sampling step. Default 100. */
  readonly stepMs?: number;
  /** Time to load another checkpoint (the switch cost). Default 300. */
  readonly modelLoadMs?: number;
  /** Cap of the image's long side; the aspect ratio is kept. Default 256. */
  readonly maxImageSize?: number;
  /**
   * Time to encode the image once the generation is done, outside the lock as in Forge (the GPU is free and
   * `/progress` idle meanwhile; a real 1024² PNG takes Forge around 100 ms). Default 0.
   */
  readonly encodeMs?: number;
  /**
   * Time a failed generation's 500 takes to reach its client once the lock is free and `/progress` idle. Forge
   * answers at once (webui.py's exception handler; Starlette logs the traceback after the answer is sent); this acts
   * out an answer held up on its way (a slow link, a proxy), when a client may see the GPU idle before it. Default 0.
   */
  readonly errorAnswerMs?: number;
  /**
   * Time a job keeps the lock after it reported idle (Forge's `state.end()` frees GPU memory before the lock is
   * released), so that a request waiting behind it begins that much later. Default 0.
   */
  readonly cleanupMs?: number;
  /**
   * Time a request spends before it waits for the lock (Forge sets up its scripts first); an interrupt sent meanwhile
   * is cleared when the job begins, as in Forge. Default 0.
   */
  readonly setupMs?: number;
  /**
   * Time a checkpoint rescan (POST /refresh-checkpoints) holds the generation lock, with `/progress` saying idle, as
   * Forge's does while it reads a large models folder. Default 0.
   */
  readonly rescanMs?: number;
  /** Model names, e.g. "flux1-dev"; the first is loaded at start. */
  readonly models?: readonly string[];
  /**
   * Model names (of `models`) whose SHA-256 Forge has not cached: listed by file name alone, and "file [shorthash]"
   * (a title another backend gives) is not a name it knows. Default none.
   */
  readonly unhashedModels?: readonly string[];
  /** Model names (of `models`) that load only with `forge_additional_modules`. Default none. */
  readonly modularModels?: readonly string[];
  /** Module files `/sd-modules` lists. Default ae, clip_l and t5xxl_fp16. */
  readonly modules?: readonly string[];
  /** "user:password": every /sdapi route wants HTTP Basic with it, as Forge's `--api-auth`. */
  readonly auth?: string;
  /** Act out an old Forge build that ignores the checkpoint override. */
  readonly ignoreCheckpointOverride?: boolean;
  /** Act out AUTOMATIC1111 instead: no /sd-modules (404), and `forge_additional_modules` fails txt2img (500 KeyError). */
  readonly automatic1111?: boolean;
  /** Forge's `samples_format`. Default png. */
  readonly samplesFormat?: "png" | "jpg" | "webp";
}

/** How `setBusy` pretends another client is working. */
export interface BusyOptions {
  /** A set-up / model-load phase of this length first (`job_count` -1), which an interrupt cannot cut short. */
  readonly loadMs?: number;
  /** Sampling steps (of `stepMs` each) after which the other client's generation ends by itself; default: none, it
   * holds the backend without progress until `setBusy(false)`. */
  readonly steps?: number;
  /**
   * Who runs it, as `/progress` tells: a person in Forge's own UI (`state.job` a `task(…)` id; the default),
   * another client of the API (`scripts_txt2img`, e.g. a generation a killed Anvil server left running), or another
   * client's img2img (`scripts_img2img`) or extras (`extras`).
   */
  readonly from?: ExternalSource;
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
  setBusy(busy: boolean, options?: BusyOptions): void;
  /** Changes the checkpoint switch cost, from the next load on. */
  setModelLoadMs(ms: number): void;
  /** Puts a checkpoint file in the models folder: listed after POST /refresh-checkpoints, as in Forge. */
  addCheckpoint(name: string): void;
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

/**
 * Listens on a free port from 20000 to 32767, below the range the system hands out for port 0 and for outgoing
 * connections (32768 and up on Linux). A simulator taken offline gives its port up and takes it back later, and any
 * other server of the test run that listens on port 0 meanwhile could otherwise be given it. A probe of the
 * "unreachable" backend would then reach that server and wait as long as it does not answer (a blackholed proxy of
 * another test never does), and the simulator could not come back.
 */
async function listenBelowEphemeral(server: Server, host: string): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      return await listen(server, 20_000 + Math.floor(Math.random() * 12_768), host);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || tries >= 50) throw error;
    }
  }
}

/** Starts a Forge simulator on a real port. */
export async function startForgeSimulator(options: ForgeSimulatorOptions = {}): Promise<ForgeSimulator> {
  const host = options.host ?? "127.0.0.1";
  const unhashed = new Set(options.unhashedModels ?? []);
  const models = (options.models ?? DEFAULT_MODELS).map((name) => simulatedModel(name, !unhashed.has(name)));
  const first = models[0];
  if (!first) throw new RangeError("The simulator needs at least one model");
  const settings = {
    stepMs: options.stepMs ?? 100,
    modelLoadMs: options.modelLoadMs ?? 300,
    maxImageSize: options.maxImageSize ?? 256,
    encodeMs: options.encodeMs ?? 0,
    errorAnswerMs: options.errorAnswerMs ?? 0,
    cleanupMs: options.cleanupMs ?? 0,
    setupMs: options.setupMs ?? 0,
    ignoreCheckpointOverride: options.ignoreCheckpointOverride ?? false,
    modularModels: options.modularModels ?? [],
    moduleFiles: (options.modules ?? DEFAULT_MODULES).map((file) => simulatedModule(file).filename),
  };
  const engine = new SimulatorEngine(settings, models, first);
  engine.samplesFormat = options.samplesFormat ?? "png";
  const faults: SimulatorFault[] = [];
  const onDisk: string[] = [];
  const ctx = {
    engine,
    options: { CLIP_stop_at_last_layers: 1 } as Record<string, unknown>,
    modules: (options.modules ?? DEFAULT_MODULES).map(simulatedModule),
    authorization: options.auth === undefined ? null : `Basic ${Buffer.from(options.auth).toString("base64")}`,
    takeFault: () => faults.shift(),
    automatic1111: options.automatic1111 ?? false,
    refreshCheckpoints: async () => {
      if (options.rescanMs) await sleep(options.rescanMs);
      engine.recorder.refreshed();
      for (const name of onDisk.splice(0)) models.push(simulatedModel(name, !unhashed.has(name)));
    },
  };
  const server = createServer((req, res) => {
    handleRequest(ctx, req, res).catch(() => {
      if (!res.headersSent && !res.destroyed) res.writeHead(500).end();
    });
  });
  await (options.port === undefined ? listenBelowEphemeral(server, host) : listen(server, options.port, host));
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
    setModelLoadMs: (ms) => {
      settings.modelLoadMs = ms;
    },
    addCheckpoint: (name) => {
      onDisk.push(name);
    },
    setBusy: (on, busyOptions = {}) => {
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
        steps: busyOptions.steps ?? 1,
        seed: -1,
        sampler: "Euler",
        scheduler: "Simple",
        cfgScale: 1,
        checkpoint: null,
        modules: undefined,
        restoreAfterwards: true,
      };
      void engine.run({
        params,
        fault: busyOptions.steps === undefined ? "hang" : undefined,
        external: true,
        from: busyOptions.from ?? "ui",
        until: () => token.done,
        ...(busyOptions.loadMs === undefined ? {} : { loadMs: busyOptions.loadMs }),
      });
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

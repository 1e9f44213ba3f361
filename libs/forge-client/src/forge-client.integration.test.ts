import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type Socket } from "node:net";
import { Effect } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { findCheckpoint } from "./checkpoints";
import { makeForgeClient } from "./forge-client";
import { startForgeSimulator, type ForgeSimulator } from "./simulator/forge-simulator";
import { request } from "./testing/requests";

const pngSize = (png: Uint8Array) => {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

// Ten seconds: the tests run beside the server's on a loaded machine (scripts/test.mjs), where an interrupt once
// took longer than two.
const waitFor = async (check: () => boolean, timeoutMs = 10_000) => {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const closedPort = async () => {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
};

describe("ForgeClient", () => {
  let sim: ForgeSimulator;
  const client = () => makeForgeClient({ baseUrl: sim.url, progressIntervalMs: 10, connectRetries: 2 });

  beforeEach(async () => {
    sim = await startForgeSimulator({ stepMs: 5, modelLoadMs: 5 });
  });
  afterEach(async () => {
    await sim.close();
  });

  it("returns a PNG of the requested size and the seed Forge used when the seed is random", async () => {
    const result = await Effect.runPromise(client().generate(request()));
    expect([...result.png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(pngSize(result.png)).toEqual({ width: 64, height: 48 });
    expect(result.seed).toBe(sim.stats().log[0]?.seed);
    expect(result.info["seed"]).toBe(result.seed);
  });

  it("reports integer progress that rises below 100 and ends at 100 with the result", async () => {
    const seen: number[] = [];
    await Effect.runPromise(client().generate(request({ steps: 30 }), { onProgress: (p) => seen.push(p) }));
    const beforeResult = seen.slice(0, -1);
    expect(seen.at(-1)).toBe(100);
    expect(new Set(beforeResult).size).toBeGreaterThan(1);
    expect(beforeResult.every((p, i) => Number.isInteger(p) && p < 100 && p >= (beforeResult[i - 1] ?? 0))).toBe(true);
  });

  it("says when the job loads its checkpoint on Forge, and when it samples", async () => {
    sim.setModelLoadMs(300);
    const forge = client();
    const schnell = findCheckpoint(await Effect.runPromise(forge.sdModels()), "flux1-schnell");
    const said: boolean[] = [];
    await Effect.runPromise(
      forge.generate(request({ checkpoint: schnell?.title ?? "", steps: 20 }), { onLoading: (l) => said.push(l) }),
    );
    expect(said).toEqual([true, false]);
    // Loaded already: nothing to say.
    said.length = 0;
    await Effect.runPromise(
      forge.generate(request({ checkpoint: schnell?.title ?? "", steps: 20 }), { onLoading: (l) => said.push(l) }),
    );
    expect(said).toEqual([]);
  });

  it("keeps a requested checkpoint loaded after the image when checkpoint is set", async () => {
    const forge = client();
    const models = await Effect.runPromise(forge.sdModels());
    const schnell = findCheckpoint(models, "flux1-schnell");
    expect(schnell?.title).toMatch(/^flux1-schnell\.safetensors \[[0-9a-f]+\]$/);
    const result = await Effect.runPromise(forge.generate(request({ checkpoint: schnell?.title ?? "" })));
    const options = await Effect.runPromise(forge.options());
    expect(result.info["sd_model_name"]).toBe("flux1-schnell");
    // The override sets the title without its hash (Forge always knows that name), and /options returns it as set.
    expect(options["sd_model_checkpoint"]).toBe("flux1-schnell.safetensors");
    expect(sim.stats().modelLoads).toBe(1);
  });

  it("interrupts the backend when the generate fiber is interrupted by an AbortSignal", async () => {
    const abort = new AbortController();
    const running = Effect.runPromise(client().generate(request({ steps: 400 }), { onProgress: () => abort.abort() }), {
      signal: abort.signal,
    });
    await expect(running).rejects.toThrow();
    await waitFor(() => sim.stats().log[0]?.outcome === "interrupted");
    expect(sim.stats().interrupted).toBe(1);
  });

  it("interrupts the backend when a timeout interrupts a generation that hangs", async () => {
    // Two seconds: on a loaded machine 100 ms once ran out before the request reached the simulator, which then had
    // nothing running to interrupt.
    const timedOut = client()
      .generate(request({ prompt: "sim:hang" }))
      .pipe(Effect.timeout(2_000), Effect.flip);
    expect((await Effect.runPromise(timedOut))._tag).toBe("TimeoutError");
    await waitFor(() => sim.stats().interrupted === 1);
    expect((await Effect.runPromise(client().progress())).busy).toBe(false);
  });

  it.each([
    ["oom", "OutOfMemory", /^Forge ran out of GPU memory: CUDA out of memory\. Tried to allocate 2\.00 GiB/],
    ["500", "HttpError", /^Forge failed \(HTTP 500\): RuntimeError: simulated failure$/],
    ["422", "InvalidRequest", /^Forge rejected the request: steps: Input should be less than or equal to 150$/],
    ["drop", "ConnectionLost", /^Lost the connection to Forge at http:\/\/127\.0\.0\.1:\d+/],
    [
      "nonjson",
      "BadResponse",
      /^Forge answered with something that is not JSON \(text\/html to \/sdapi\/v1\/txt2img\): is http:\/\/127\.0\.0\.1:\d+ Forge's address\?$/,
    ],
    ["noimage", "NoImage", /^Forge returned no image$/],
  ])("fails with the right reason and message when Forge acts out sim:%s", async (fault, reason, message) => {
    const error = await Effect.runPromise(Effect.flip(client().generate(request({ prompt: `cat sim:${fault}` }))));
    expect(error._tag).toBe("ForgeError");
    expect(error.reason).toBe(reason);
    expect(error.message).toMatch(message);
    expect(error.backendUrl).toBe(sim.url);
  });

  it("fails with OutOfMemory when the fault is injected rather than prompted", async () => {
    sim.injectFault("oom");
    const error = await Effect.runPromise(Effect.flip(client().txt2img(request())));
    expect(error.reason).toBe("OutOfMemory");
    expect((await Effect.runPromise(client().txt2img(request()))).png.length).toBeGreaterThan(0);
  });

  it("never resends a txt2img whose connection dropped, and stops the orphaned generation", async () => {
    const error = await Effect.runPromise(Effect.flip(client().generate(request({ prompt: "sim:drop", steps: 40 }))));
    expect(error.reason).toBe("ConnectionLost");
    await waitFor(() => sim.stats().active === 0);
    expect(sim.stats()).toMatchObject({ received: 1, started: 1, interrupted: 1 });
  });

  it("fails with Unreachable after the connect retries when nothing listens on the port", async () => {
    const baseUrl = `http://127.0.0.1:${await closedPort()}`;
    let attempts = 0;
    const counting: typeof fetch = (input, init) => {
      attempts += 1;
      return fetch(input, init);
    };
    const forge = makeForgeClient({ baseUrl, connectRetries: 2, fetch: counting });
    const error = await Effect.runPromise(Effect.flip(forge.txt2img(request())));
    expect(error.reason).toBe("Unreachable");
    expect(error.message).toBe(`Forge is unreachable at ${baseUrl} (connection refused)`);
    expect(attempts).toBe(3);
  });

  it("succeeds by retrying when Forge comes back during the connect retries", async () => {
    await sim.setOffline(true);
    setTimeout(() => void sim.setOffline(false), 150);
    const forge = makeForgeClient({ baseUrl: sim.url, connectRetries: 4 });
    expect(await Effect.runPromise(forge.sdModels())).toHaveLength(3);
  });

  it("says a 404 from Forge's API may be a Forge still starting, whose web page answers before its API", async () => {
    // Forge's web UI listens before it adds its API routes (webui.py): a probe meanwhile finds /sdapi/v1 a 404.
    const starting = createHttpServer((_, res) => {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ detail: "Not Found" }));
    });
    await new Promise<void>((resolve) => starting.listen(0, "127.0.0.1", resolve));
    const address = starting.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const error = await Effect.runPromise(
      Effect.flip(makeForgeClient({ baseUrl: `http://127.0.0.1:${port}` }).progress()),
    );
    expect(error.message).toMatch(/HTTP 404.*is Forge started with --api, and done starting\?/);
    await new Promise((resolve) => starting.close(resolve));
  });

  it("fails with Timeout and aborts the request when Forge does not answer in time", async () => {
    let aborted = false;
    // A raw TCP server that reads the request and never answers; resume() so it notices the client hanging up.
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => {
      sockets.add(socket);
      socket.resume().on("close", () => (aborted = true));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    const forge = makeForgeClient({ baseUrl: `http://127.0.0.1:${port}`, requestTimeoutMs: 50 });
    const error = await Effect.runPromise(Effect.flip(forge.progress()));
    expect(error.reason).toBe("Timeout");
    await waitFor(() => aborted);
    // fetch keeps an idle connection around; close() would wait for it.
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it("lists samplers and schedulers by name", async () => {
    const forge = client();
    expect(await Effect.runPromise(forge.samplers())).toContainEqual({ name: "Euler", aliases: ["k_euler"] });
    expect(await Effect.runPromise(forge.schedulers())).toContainEqual({ name: "simple", aliases: ["Simple"] });
  });
});

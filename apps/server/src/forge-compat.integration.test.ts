import { Writable } from "node:stream";
import { startForgeSimulator } from "@anvil/forge-client";
import type { ForgeSimulator, ForgeSimulatorOptions } from "@anvil/forge-client";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startAnvil, type AnvilServer } from "./anvil";
import { httpClient, type AnvilClient } from "./testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { backendsUp, standInWebApp, testServerConfig } from "./testing/test-server";
import { testDrivers, type TestDatabase } from "./testing/test-databases";
import { waitFor, waitForJob, waitForStatus } from "./testing/wait";

/** Anvil in front of simulators set up like a particular real Forge, with every log line kept. */
interface Rig {
  anvil: AnvilServer;
  trpc: AnvilClient;
  sims: ForgeSimulator[];
  logs: string[];
}

describe("Anvil in front of a Forge that behaves as Forge's source does", () => {
  const [pglite] = testDrivers();
  const open: { anvil?: AnvilServer; sims: ForgeSimulator[]; database?: TestDatabase }[] = [];

  const rig = async (
    simOptions: ForgeSimulatorOptions[] = [{}],
    forgeUrl: (sims: ForgeSimulator[]) => string[] = (sims) => sims.map((sim) => sim.url),
    before?: (sims: ForgeSimulator[]) => void,
  ): Promise<Rig> => {
    const entry: (typeof open)[number] = { sims: [] };
    open.push(entry);
    entry.database = await pglite!.create();
    entry.sims = await Promise.all(simOptions.map((o) => startForgeSimulator({ stepMs: 5, modelLoadMs: 5, ...o })));
    before?.(entry.sims);
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString("utf8"));
        done();
      },
    });
    entry.anvil = await startAnvil({
      ...testServerConfig(entry.database),
      forgeUrls: forgeUrl(entry.sims),
      logger: pino({ level: "debug" }, sink),
      probeIntervalMs: 200,
      webDir: await standInWebApp(entry.database.dataDir),
    });
    return { anvil: entry.anvil, trpc: httpClient(entry.anvil.url), sims: entry.sims, logs };
  };

  afterEach(async () => {
    for (const entry of open.splice(0)) {
      await entry.anvil?.close();
      await Promise.all(entry.sims.map((sim) => sim.close()));
      await entry.database?.dispose();
    }
  });

  it("shows Forge's own error message on an out-of-memory job", async () => {
    const { anvil, trpc } = await rig();
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({ prompt: "big sim:oom", ...quick });
    const failed = await waitForStatus(trpc, job.id, "error");
    expect(failed.error).toMatch(/^Forge ran out of GPU memory: CUDA out of memory\. Tried to allocate 2\.00 GiB/);
  });

  it("fails a job that runs out of memory in its VAE decode, with the next job already running on the GPU", async () => {
    // Forge goes idle after the last step, then answers the decode's out-of-memory as a 500, here held up on its
    // way (a slow link): 1.5 s leave a loaded machine time to see the idle GPU (600 ms were too few at a load of 20).
    const { anvil, trpc, sims } = await rig([{ stepMs: 10, errorAnswerMs: 1_500 }]);
    await backendsUp(anvil);
    const [big, next] = await Promise.all(
      [uniquePrompt("big sim:vaeoom"), uniquePrompt("next")].map((prompt) =>
        trpc.jobs.submit.mutate({ prompt, width: 64, height: 64, steps: 10 }),
      ),
    );
    const failed = await waitForStatus(trpc, big!.id, "error");
    expect(failed.error).toMatch(/^Forge ran out of GPU memory: CUDA out of memory/);
    expect(failed.imageUrl).toBeNull();
    const done = await waitForStatus(trpc, next!.id, "complete");
    expect(done.attempt).toBe(1);
    const [a, b] = sims[0]!.stats().log;
    expect(b?.startedAt).toBeLessThan(a?.answeredAt ?? -Infinity);
    expect(sims[0]!.stats()).toMatchObject({ failed: 1, completed: 1, overlaps: 0, waited: 0, maxQueued: 1 });
    expect((await trpc.queue.status.query()).backends[0]).toMatchObject({ healthy: true });
  });

  it("starts the next job while Forge still encodes the last one's image, and a job cancelled then stops nothing", async () => {
    // Forge leaves its lock and reports idle before it encodes the PNG: the GPU is free for that time.
    const { trpc, sims } = await rig([{ stepMs: 10, encodeMs: 800 }]);
    const [first, second, third] = await Promise.all(
      ["first", "second", "third"].map((word) =>
        trpc.jobs.submit.mutate({ prompt: uniquePrompt(word), width: 64, height: 64, steps: 20 }),
      ),
    );
    const sim = sims[0]!;
    await waitFor(() => sim.stats().log.length === 3, "the third job runs on Forge");
    // The second image is still being encoded when the third job starts: cancelled now, it must not interrupt that.
    await trpc.jobs.cancel.mutate({ jobId: second!.id });
    await waitForStatus(trpc, third!.id, "complete");
    await waitForStatus(trpc, first!.id, "complete");
    const [a, b, c] = sim.stats().log;
    expect(b?.startedAt).toBeLessThan(a?.answeredAt ?? -Infinity);
    expect(c?.startedAt).toBeLessThan(b?.answeredAt ?? -Infinity);
    expect(sim.stats()).toMatchObject({ completed: 3, interrupted: 0, overlaps: 0, waited: 0, maxQueued: 1 });
    expect((await trpc.jobs.get.query({ jobId: second!.id })).status).toBe("cancelled");
    expect((await trpc.jobs.get.query({ jobId: third!.id })).imageUrl).toMatch(/\.png$/);
  });

  /** A job (`prompt`) on one simulator whose checkpoint switch takes 1.5 s, once Forge is loading its checkpoint. */
  const whileLoading = async (prompt: string) => {
    const { anvil, trpc, sims } = await rig([{ modelLoadMs: 1500, stepMs: 5 }]);
    const sim = sims[0]!;
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt(prompt), checkpoint: "flux1-schnell", ...quick });
    await waitFor(async () => {
      const progress = (await (await fetch(`${sim.url}/sdapi/v1/progress`)).json()) as { state: { job_count: number } };
      return progress.state.job_count === -1;
    }, "the checkpoint is loading");
    return { trpc, sim, job };
  };

  it("says in queue.status that a GPU loads its job's checkpoint, until the job samples", async () => {
    const { trpc, job } = await whileLoading("says it loads");
    // Told by Forge's next poll after the load began.
    await waitFor(async () => (await trpc.queue.status.query()).backends[0]?.loadingModel === true, "loading is said");
    expect((await trpc.queue.status.query()).backends[0]).toMatchObject({ busy: true, jobId: job.id });
    await waitForStatus(trpc, job.id, "complete");
    expect((await trpc.queue.status.query()).backends[0]?.loadingModel).toBe(false);
  });

  it("never sends the next job while a cancelled one is still loading its checkpoint", async () => {
    const { trpc, sim, job: loading } = await whileLoading("load");
    await trpc.jobs.cancel.mutate({ jobId: loading.id });
    // The GPU is still Forge's until the load ends: the queue says it is stopping, not running the cancelled job.
    expect((await trpc.queue.status.query()).backends[0]).toMatchObject({ busy: true, stopping: true, jobId: null });
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("next"), ...quick });
    await waitForStatus(trpc, next.id, "complete");
    expect((await trpc.queue.status.query()).backends[0]).toMatchObject({ busy: false, stopping: false });
    const stats = sim.stats();
    expect(stats.waited).toBe(0);
    const [first, second] = stats.log;
    expect(second?.startedAt).toBeGreaterThanOrEqual(first?.endedAt ?? Infinity);
  });

  it("leaves alone another client's txt2img that waited in Forge's lock behind a job Forge failed", async () => {
    const { trpc, sim, job: failing } = await whileLoading("fails sim:oom");
    // Another client's txt2img arrives meanwhile and waits in Forge's lock; it begins once Forge failed Anvil's job.
    sim.setBusy(true, { from: "api", steps: 40 });
    const failed = await waitForStatus(trpc, failing.id, "error");
    expect(failed.error).toMatch(/out of GPU memory/);
    await waitFor(() => sim.stats().log.length === 2 && sim.stats().log[1]!.outcome !== "running", "theirs ended");
    expect(sim.stats().log.map((entry) => entry.outcome)).toEqual(["error", "completed"]);
    // The GPU was waited for, not taken from them: the next job starts after theirs.
    const next = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("next"), ...quick });
    await waitForStatus(trpc, next.id, "complete");
    const [, theirs, ours] = sim.stats().log;
    expect(ours?.startedAt).toBeGreaterThanOrEqual(theirs?.endedAt ?? Infinity);
    expect(sim.stats().waited).toBe(0);
  });

  it("at start, sends nothing to a backend busy loading for another client's txt2img until that is done", async () => {
    const { anvil, trpc, sims } = await rig([{ stepMs: 5 }], undefined, ([sim]) =>
      // A txt2img through the API on a backend this Anvil never sent work to: another client's, waited out (one an
      // earlier life of this Anvil left is interrupted: backend-offline.integration.test.ts, crash-restart's).
      sim!.setBusy(true, { loadMs: 1500, from: "api" }),
    );
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("after restart"), ...quick });
    await waitFor(
      () => /another client/.test(anvil.service.monitor.health()[0]?.lastError ?? ""),
      "the probe says whose work it waits for",
    );
    expect((await trpc.jobs.get.query({ jobId: job.id })).status).toBe("queued");
    // It answers, so it is not said to be unreachable: the CLI and the web app tell the two apart.
    expect((await trpc.queue.status.query()).backends[0]).toMatchObject({
      healthy: false,
      unavailable: "busy-elsewhere",
    });
    // The other client's generation ends (the simulator's runs until told).
    sims[0]!.setBusy(false);
    await waitForStatus(trpc, job.id, "complete");
    const stats = sims[0]!.stats();
    expect(stats.waited).toBe(0);
    expect(stats.log[0]?.outcome).toBe("completed");
    expect(stats.log[1]?.startedAt).toBeGreaterThanOrEqual(stats.log[0]?.endedAt ?? Infinity);
    expect(anvil.service.monitor.health()[0]?.healthy).toBe(true);
    expect((await trpc.queue.status.query()).backends[0]?.unavailable).toBeNull();
  });

  it("at start, waits out another client's img2img and extras, saying which, and interrupts neither", async () => {
    const { anvil, trpc, sims } = await rig([{ stepMs: 5 }, { stepMs: 5 }], undefined, ([img2img, extras]) => {
      // Jobs Anvil never sends (Forge's state.job `scripts_img2img` and `extras`): not a person's work in Forge's UI.
      img2img!.setBusy(true, { from: "img2img" });
      extras!.setBusy(true, { from: "extras" });
    });
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("behind an img2img"), ...quick });
    const said = () => anvil.service.monitor.health().map((backend) => backend.lastError ?? "");
    await waitFor(
      () => /img2img another client sent/.test(said()[0]!) && /extras job/.test(said()[1]!),
      "each probe says whose work it waits for",
    );
    expect(said().some((reason) => /started in Forge's own UI/.test(reason))).toBe(false);
    expect((await trpc.jobs.get.query({ jobId: job.id })).status).toBe("queued");
    for (const sim of sims) sim.setBusy(false);
    await waitForStatus(trpc, job.id, "complete");
    for (const sim of sims) expect(sim.stats()).toMatchObject({ interrupted: 0, overlaps: 0 });
  });

  it("works with credentials in FORGE_URL and shows the password nowhere", async () => {
    const password = "pa55-w0rd-never-shown";
    const { anvil, trpc, logs } = await rig([{ auth: `anvil:${password}` }], (sims) =>
      sims.map((sim) => sim.url.replace("http://", `http://anvil:${password}@`)),
    );
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("behind auth"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const failed = await trpc.jobs.submit.mutate({ prompt: "fails sim:500", ...quick });
    await waitForStatus(trpc, failed.id, "error");
    const shown = JSON.stringify([
      await trpc.health.query(),
      await trpc.queue.status.query(),
      await trpc.jobs.list.query({}),
      await (await fetch(`${anvil.url}/metrics`)).text(),
      logs,
    ]);
    expect(shown).toContain("Forge failed (HTTP 500)");
    expect(shown).not.toContain(password);
  });

  it("says what is wrong when the credentials are missing, without marking the backend up", async () => {
    const { anvil, logs } = await rig([{ auth: "anvil:secret" }]);
    await waitFor(() => logs.some((line) => line.includes("wants credentials")), "the probe failure is logged");
    expect(anvil.service.monitor.health()[0]).toMatchObject({
      healthy: false,
      lastError: expect.stringMatching(/--api-auth/),
    });
  });

  it("does not complete a job that someone interrupted in Forge's own UI", async () => {
    const { anvil, trpc, sims } = await rig([{ stepMs: 20 }]);
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("interrupted elsewhere"),
      steps: 150,
      width: 64,
      height: 64,
    });
    await waitFor(() => (sims[0]!.stats().log[0]?.startedAt ?? 0) > 0, "the generation runs");
    await waitFor(async () => {
      const p = (await (await fetch(`${sims[0]!.url}/sdapi/v1/progress`)).json()) as {
        state: { sampling_step: number };
      };
      return p.state.sampling_step >= 2;
    }, "sampling is under way");
    await fetch(`${sims[0]!.url}/sdapi/v1/interrupt`, { method: "POST" });
    const ended = await waitForStatus(trpc, job.id, "error");
    expect(ended.error).toMatch(/interrupted in Forge's own interface/);
    expect(ended.imageUrl).toBeNull();
  });

  it("refuses an unknown sampler, listing the known ones, and takes an alias by its name", async () => {
    const { anvil, trpc } = await rig();
    await backendsUp(anvil);
    const error = await trpcError(trpc.jobs.submit.mutate({ prompt: "x", sampler: "Eulr", ...quick }));
    expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(error.message).toBe(
      'sampler "Eulr" is not known to the backend; known: Euler, Euler a, DPM++ 2M, DPM++ 2M SDE, DDIM, UniPC',
    );
    // Named as the schema's refusals name theirs: one message per field.
    expect((error.data as { fields?: string[] } | null)?.fields).toEqual([error.message]);
    const aliased = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("alias"),
      sampler: "k_euler_a",
      scheduler: "Karras",
      ...quick,
    });
    expect(aliased.params).toMatchObject({ sampler: "Euler a", scheduler: "karras", distilledCfgScale: 3.5 });
    const badScheduler = await trpcError(trpc.jobs.submit.mutate({ prompt: "x", scheduler: "nope", ...quick }));
    expect(badScheduler.message).toMatch(/^scheduler "nope" is not known to the backend; known: automatic, simple/);
  });

  it("checks at dispatch a sampler taken as given while no backend answered: Forge would use another", async () => {
    // The GPU machine restarts: jobs queue with the names they were given, which nothing could check.
    const { anvil, trpc, sims } = await rig([{}], undefined, (started) => void started[0]!.setOffline(true));
    const [alias, typo] = await Promise.all(
      (["k_euler", "Eulr"] as const).map((sampler) =>
        trpc.jobs.submit.mutate({ prompt: uniquePrompt(sampler), sampler, ...quick }),
      ),
    );
    expect([alias!.params.sampler, typo!.params.sampler]).toEqual(["k_euler", "Eulr"]);
    await sims[0]!.setOffline(false);
    await backendsUp(anvil);
    // Forge takes a sampler by its exact name alone: the alias goes as the name it stands for.
    await waitForStatus(trpc, alias!.id, "complete");
    expect(sims[0]!.stats().log.find((entry) => entry.prompt === alias!.prompt)).toBeDefined();
    const failed = await waitForStatus(trpc, typo!.id, "error");
    expect(failed.error).toBe(
      'sampler "Eulr" is not known to the backend; known: Euler, Euler a, DPM++ 2M, DPM++ 2M SDE, DDIM, UniPC',
    );
    expect(sims[0]!.stats().log.some((entry) => entry.prompt === typo!.prompt)).toBe(false);
  });

  it("queues a job whose checkpoint no backend could check yet, and sends Forge the title it stands for", async () => {
    // Anvil and Forge start together, and Forge takes minutes to load: jobs naming a checkpoint queue meanwhile.
    const { anvil, trpc, sims } = await rig([{}], undefined, (started) => void started[0]!.setOffline(true));
    const submit = (label: string, names: { checkpoint: string; modules?: string[] }) =>
      trpc.jobs.submit.mutate({ prompt: uniquePrompt(label), ...names, ...quick });
    // Forge knows a checkpoint by its exact names alone: this one it would ignore, making the image with another.
    const short = await submit("short", { checkpoint: "SDXL-Base-1.0" });
    const typo = await submit("typo", { checkpoint: "sdxl-bsae" });
    const badModule = await submit("bad module", { checkpoint: "flux1-dev", modules: ["vae-nope.safetensors"] });
    for (const job of [short, typo, badModule]) expect(job.status).toBe("queued");
    expect(short.params.checkpoint).toBe("SDXL-Base-1.0");
    await sims[0]!.setOffline(false);
    await backendsUp(anvil);
    expect((await waitForStatus(trpc, short.id, "complete")).params.checkpoint).toBe("SDXL-Base-1.0");
    const sent = sims[0]!.stats().log.find((entry) => entry.prompt === short.prompt);
    expect(sent?.checkpoint).toBe("sdxl-base-1.0.safetensors");
    const failed = await waitForStatus(trpc, typo.id, "error");
    // Never checked, so never "known when the job was accepted".
    expect(failed.error).toMatch(
      /^checkpoint "sdxl-bsae" is not known to the backend; known: flux1-dev\.safetensors \[/,
    );
    expect(failed.error).not.toMatch(/known when the job was accepted/);
    expect((await waitForStatus(trpc, badModule.id, "error")).error).toBe(
      'module "vae-nope.safetensors" is not known to the backend; known: ae.safetensors, clip_l.safetensors, t5xxl_fp16.safetensors',
    );
    const log = sims[0]!.stats().log;
    expect(log.some((entry) => entry.prompt === typo.prompt || entry.prompt === badModule.prompt)).toBe(false);
    // Once a backend has answered, names are checked at submission again.
    const refused = await trpcError(submit("typo again", { checkpoint: "sdxl-bsae" }));
    expect(codeOf(refused)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(refused.message).toMatch(/^checkpoint "sdxl-bsae" is not known to the backend; known: /);
    const resolved = await submit("resolved", { checkpoint: "SDXL-Base-1.0" });
    expect(resolved.params.checkpoint).toMatch(/^sdxl-base-1\.0\.safetensors \[[0-9a-f]+\]$/);
    await waitForStatus(trpc, resolved.id, "complete");
  });

  it("serves a JPEG that Forge sent (samples_format jpg) as image/jpeg", async () => {
    const { anvil, trpc } = await rig([{ samplesFormat: "jpg" }]);
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("jpeg"), ...quick });
    const done = await waitForStatus(trpc, job.id, "complete");
    const image = await fetch(`${anvil.url}${done.imageUrl}`);
    expect(image.headers.get("content-type")).toBe("image/jpeg");
    // Saved from the browser, it is a .jpg (the web app's Download takes this name).
    expect(image.headers.get("content-disposition")).toBe(`inline; filename="anvil-${job.id}.jpg"`);
    expect([...new Uint8Array(await image.arrayBuffer()).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
  });

  it("finds a checkpoint on any backend, and one added since Forge started after one refresh", async () => {
    const { anvil, trpc, sims } = await rig([{ models: ["flux1-dev"] }, { models: ["sdxl-base-1.0"] }]);
    await backendsUp(anvil);
    const onSecond = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("second"),
      checkpoint: "sdxl-base-1.0",
      ...quick,
    });
    expect(onSecond.params.checkpoint).toMatch(/^sdxl-base-1\.0\.safetensors \[[0-9a-f]+\]$/);
    sims[0]!.addCheckpoint("juggernaut-xl");
    const added = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("added"),
      checkpoint: "juggernaut-xl",
      ...quick,
    });
    expect(added.params.checkpoint).toMatch(/^juggernaut-xl\.safetensors \[[0-9a-f]+\]$/);
    await trpc.jobs.cancel.mutate({ jobId: onSecond.id }).catch(() => undefined);
    await trpc.jobs.cancel.mutate({ jobId: added.id }).catch(() => undefined);
  });

  it("fails a job whose checkpoint left with its backend at once, without spending the GPU on another model", async () => {
    const { anvil, trpc, sims } = await rig([{ models: ["flux1-dev"] }, { models: ["flux1-dev", "special-model"] }]);
    await backendsUp(anvil);
    await trpc.queue.pause.mutate();
    const waiting = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("special"),
      checkpoint: "special-model",
      ...quick,
    });
    // Restarted with a FORGE_URL that no longer names the backend that had it.
    await anvil.close();
    const entry = open.at(-1)!;
    entry.anvil = await startAnvil({
      ...testServerConfig(entry.database!),
      forgeUrls: [sims[0]!.url],
      logger: pino({ level: "silent" }),
      probeIntervalMs: 200,
      webDir: await standInWebApp(entry.database!.dataDir),
    });
    const again = httpClient(entry.anvil.url);
    await backendsUp(entry.anvil);
    await again.queue.resume.mutate();
    const failed = await waitForStatus(again, waiting.id, "error");
    expect(failed.error).toMatch(/^checkpoint "special-model.safetensors \[[0-9a-f]+\]" is not known to the backend/);
    expect(failed.error).toMatch(
      /it was known when the job was accepted: a backend that had it may have left FORGE_URL/,
    );
    expect(sims[0]!.stats().arrived).toBe(0);
    // The next job runs.
    const next = await again.jobs.submit.mutate({ prompt: uniquePrompt("next"), ...quick });
    await waitForStatus(again, next.id, "complete");
  });

  it("lists a file once when one backend has hashed it and another has not yet (Forge titles it by name alone then)", async () => {
    const { anvil, trpc } = await rig([{ unhashedModels: ["flux1-schnell"] }, {}]);
    await backendsUp(anvil);
    const listed = (await trpc.checkpoints.list.query()).filter((model) => model.name === "flux1-schnell");
    expect(listed).toEqual([
      { title: expect.stringMatching(/^flux1-schnell\.safetensors \[[0-9a-f]{10}\]$/), name: "flux1-schnell" },
    ]);
  });

  it("rescans the checkpoint folders once for many unknown names (Forge does it under its generation lock)", async () => {
    const { anvil, trpc, sims } = await rig([{}]);
    await backendsUp(anvil);
    const refused = await Promise.all(
      ["nope-1", "nope-2", "nope-3", "nope-4", "nope-5"].map((checkpoint) =>
        trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("typo"), checkpoint, ...quick })),
      ),
    );
    for (const error of refused) expect(error.message).toMatch(/^checkpoint "nope-\d" is not known to the backend/);
    // Once more, a moment later: still one rescan.
    await trpcError(trpc.jobs.submit.mutate({ prompt: uniquePrompt("typo"), checkpoint: "nope-6", ...quick }));
    expect(sims[0]!.stats().refreshes).toBe(1);
  });

  it("runs a Flux checkpoint with its modules, and says what to do when a broken load left Forge without a model", async () => {
    const { anvil, trpc } = await rig([{ models: ["flux1-dev", "flux1-dev-unet"], modularModels: ["flux1-dev-unet"] }]);
    await backendsUp(anvil);
    const broken = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("no modules"),
      checkpoint: "flux1-dev-unet",
      ...quick,
    });
    expect((await waitForStatus(trpc, broken.id, "error")).error).toMatch(
      /AssertionError: You do not have CLIP state dict!/,
    );
    // Forge dropped its model before the load that failed, and still believes it has it (Forge issue #2166): a job
    // on the model it had fails there until another checkpoint is loaded, and the error says so.
    const after = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("after the broken load"),
      checkpoint: "flux1-dev",
      ...quick,
    });
    expect((await waitForStatus(trpc, after.id, "error")).error).toMatch(
      /lost its model after a checkpoint failed to load \(Forge issue #2166\): load another checkpoint in Forge or restart it/,
    );
    const modules = (await trpc.checkpoints.modules.query()).map((m) => m.name);
    const withModules = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("with modules"),
      checkpoint: "flux1-dev-unet",
      modules,
      ...quick,
    });
    // By file name, as Forge keeps them (it looks each up in its own folders): not this backend's paths.
    expect(withModules.params.modules).toEqual(["ae.safetensors", "clip_l.safetensors", "t5xxl_fp16.safetensors"]);
    await waitForJob(trpc, withModules.id, (job) => job.status === "complete");
    const alone = await trpcError(trpc.jobs.submit.mutate({ prompt: "x", modules, ...quick }));
    expect(alone.message).toBe("modules must come with a checkpoint");
  });

  it("fails a job clearly when an old Forge ignores the checkpoint override", async () => {
    const { anvil, trpc } = await rig([{ ignoreCheckpointOverride: true }]);
    await backendsUp(anvil);
    const job = await trpc.jobs.submit.mutate({
      prompt: uniquePrompt("old forge"),
      checkpoint: "flux1-schnell",
      ...quick,
    });
    expect((await waitForStatus(trpc, job.id, "error")).error).toMatch(
      /ignores the checkpoint override; update Forge$/,
    );
  });
});

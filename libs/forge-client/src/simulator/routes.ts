import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SamplesFormat, SimulatorEngine } from "./engine";
import { sleep } from "./engine";
import { faultInPrompt, parseTxt2Img, type SimulatorFault } from "./faults";
import type { SimulatedModule } from "./models";

// Forge's samplers with their aliases (txt2img takes either), and schedulers with their labels.
const SAMPLERS: [string, string[]][] = [
  ["Euler", ["k_euler"]],
  ["Euler a", ["k_euler_a", "k_euler_ancestral"]],
  ["DPM++ 2M", ["k_dpmpp_2m"]],
  ["DPM++ 2M SDE", ["k_dpmpp_2m_sde"]],
  ["DDIM", []],
  ["UniPC", []],
];
const SCHEDULERS: [string, string][] = [
  ["automatic", "Automatic"],
  ["simple", "Simple"],
  ["karras", "Karras"],
  ["exponential", "Exponential"],
  ["sgm_uniform", "SGM Uniform"],
  ["beta", "Beta"],
];

/** Everything the request handler needs from the simulator. */
export interface RouteContext {
  readonly engine: SimulatorEngine;
  readonly options: Record<string, unknown>;
  readonly modules: readonly SimulatedModule[];
  /** `Basic …` that every /sdapi route demands (Forge's --api-auth), or null. */
  readonly authorization: string | null;
  /** The next injected fault, if any (consumed). */
  readonly takeFault: () => SimulatorFault | undefined;
  /** Acts out AUTOMATIC1111: no /sd-modules, and a KeyError for Forge's `forge_additional_modules` option. */
  readonly automatic1111: boolean;
  /** POST /refresh-checkpoints: checkpoints added since start become visible. */
  readonly refreshCheckpoints: () => Promise<void>;
}

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): boolean => {
  // The client may be long gone (Forge keeps working after a disconnect); then there is nobody to answer.
  if (res.destroyed || res.socket === null || res.socket.destroyed) return false;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
  return true;
};

const readBody = async (req: IncomingMessage): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};

const parseJson = (raw: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: raw === "" ? {} : (JSON.parse(raw) as unknown) };
  } catch {
    return { ok: false };
  }
};

/**
 * The sampler and scheduler a generation uses: Forge takes a sampler by its exact name only, and puts its first one
 * (DPM++ 2M) in place of any other, aliases included; a scheduler by its name or label, else Automatic
 * (`get_sampler_and_scheduler` in modules/sd_samplers.py), with a warning in its log and nothing in its answer.
 */
const knownNames = (params: { sampler: string; scheduler: string }): { sampler: string; scheduler: string } => ({
  sampler: SAMPLERS.some(([name]) => name === params.sampler) ? params.sampler : FORGE_FIRST_SAMPLER,
  scheduler:
    SCHEDULERS.find(([name, label]) => name === params.scheduler || label === params.scheduler)?.[1] ?? "Automatic",
});
const FORGE_FIRST_SAMPLER = "DPM++ 2M";

const jsonError = (res: ServerResponse) =>
  send(res, 422, { detail: [{ loc: ["body", 0], msg: "JSON decode error", type: "json_invalid" }] });

const authorized = (ctx: RouteContext, req: IncomingMessage): boolean => {
  if (ctx.authorization === null) return true;
  const given = Buffer.from(req.headers.authorization ?? "");
  const wanted = Buffer.from(ctx.authorization);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
};

const txt2img = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const json = parseJson(await readBody(req));
  if (!json.ok) return void jsonError(res);
  const parsed = parseTxt2Img(json.value);
  if (!parsed.ok) return void send(res, 422, { detail: parsed.issues });
  const overrides = (json.value as Record<string, unknown>)["override_settings"];
  if (
    ctx.automatic1111 &&
    typeof overrides === "object" &&
    overrides !== null &&
    "forge_additional_modules" in overrides
  ) {
    // A1111's options.set looks the key up in data_labels, which has no such option.
    const message = "'forge_additional_modules'";
    return void send(res, 500, { error: "KeyError", detail: "", body: "", message });
  }
  const fault = faultInPrompt(parsed.params.prompt) ?? ctx.takeFault();
  if (fault === "422") {
    const issue = { loc: ["body", "steps"], msg: "Input should be less than or equal to 150", type: "less_than_equal" };
    return void send(res, 422, { detail: [issue] });
  }
  if (fault === "nonjson") {
    res.writeHead(200, { "content-type": "text/html" });
    return void res.end("<!doctype html><html><body><h1>Stable Diffusion</h1></body></html>");
  }
  ctx.engine.recorder.arrived();
  if (ctx.engine.settings.setupMs > 0) await sleep(ctx.engine.settings.setupMs);
  const outcome = await ctx.engine.run({
    params: { ...parsed.params, ...knownNames(parsed.params) },
    fault,
    onStep: (step, steps) => {
      if (fault === "drop" && step >= Math.ceil(steps / 2)) req.socket.destroy();
    },
  });
  const parameters = json.value;
  // The generation is over and the lock free (another request may start on the GPU): now the image file is made. A
  // failure Forge answers at once, unless the simulator holds its answer up on the way.
  const { encodeMs, errorAnswerMs } = ctx.engine.settings;
  const answerMs = outcome.kind === "image" ? encodeMs : outcome.kind === "error" ? errorAnswerMs : 0;
  if (answerMs > 0) await sleep(answerMs);
  const delivered =
    outcome.kind === "error"
      ? send(res, 500, outcome.body)
      : send(res, 200, {
          images: outcome.kind === "image" ? [outcome.encode().toString("base64")] : [],
          parameters,
          info: outcome.info,
        });
  outcome.entry.delivered = delivered;
  outcome.entry.answeredAt = Date.now();
};

const SAMPLES_FORMATS: Record<string, SamplesFormat> = { png: "png", jpg: "jpg", jpeg: "jpg", webp: "webp" };

const setOptions = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const json = parseJson(await readBody(req));
  if (!json.ok || typeof json.value !== "object" || json.value === null) return void jsonError(res);
  const values = json.value as Record<string, unknown>;
  const checkpoint = values["sd_model_checkpoint"];
  const modules = values["forge_additional_modules"];
  // In Forge a POST only selects: the next generation loads it. Unlike txt2img's override, an unknown title fails.
  if (typeof checkpoint === "string") {
    const list = Array.isArray(modules) ? modules.filter((m): m is string => typeof m === "string") : undefined;
    if (!ctx.engine.select(checkpoint, list)) {
      const message = `model '${checkpoint}' not found`;
      return void send(res, 500, { error: "RuntimeError", detail: "", body: "", message });
    }
  }
  const format = values["samples_format"];
  if (typeof format === "string" && SAMPLES_FORMATS[format]) ctx.engine.samplesFormat = SAMPLES_FORMATS[format];
  Object.assign(ctx.options, values);
  send(res, 200, null);
};

/** The routes of Forge's API the simulator has (an A1111 has no sd-modules). */
const ROUTES: ReadonlySet<string> = new Set(
  [
    "POST txt2img",
    "GET progress",
    "POST interrupt",
    "POST skip",
    "GET sd-models",
    "POST refresh-checkpoints",
    "GET sd-modules",
    "GET options",
    "POST options",
    "GET samplers",
    "GET schedulers",
  ].map((route) => route.replace(" ", " /sdapi/v1/")),
);

/** Answers one HTTP request the way Forge's `/sdapi/v1` does. */
export const handleRequest = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? "/", "http://simulator").pathname.replace(/\/+$/, "");
  // Forge asks for credentials on the routes it has (add_api_route's dependency); any other path is a plain 404.
  const route = `${req.method ?? "GET"} ${path}`;
  const known = ROUTES.has(route) && !(ctx.automatic1111 && route === "GET /sdapi/v1/sd-modules");
  if (known && !authorized(ctx, req)) {
    return void send(res, 401, { detail: "Incorrect username or password" }, { "www-authenticate": "Basic" });
  }
  const { engine } = ctx;
  switch (route) {
    case "POST /sdapi/v1/txt2img":
      return txt2img(ctx, req, res);
    case "GET /sdapi/v1/progress":
      return void send(res, 200, engine.progress());
    case "POST /sdapi/v1/interrupt":
      engine.interrupt();
      return void send(res, 200, {});
    case "POST /sdapi/v1/skip":
      engine.skip();
      // Forge's skip route returns nothing (JSON null); its interrupt route an empty object.
      return void send(res, 200, null);
    case "GET /sdapi/v1/sd-models":
      return void send(res, 200, engine.models);
    case "POST /sdapi/v1/refresh-checkpoints":
      await engine.exclusive(() => ctx.refreshCheckpoints());
      return void send(res, 200, null);
    case "GET /sdapi/v1/sd-modules":
      if (ctx.automatic1111) return void send(res, 404, { detail: "Not Found" });
      return void send(res, 200, ctx.modules);
    case "GET /sdapi/v1/options":
      return void send(res, 200, {
        ...ctx.options,
        sd_model_checkpoint: engine.selected.setting,
        forge_additional_modules: engine.selected.modules,
        samples_format: engine.samplesFormat,
      });
    case "POST /sdapi/v1/options":
      return setOptions(ctx, req, res);
    case "GET /sdapi/v1/samplers":
      return void send(
        res,
        200,
        SAMPLERS.map(([name, aliases]) => ({ name, aliases, options: {} })),
      );
    case "GET /sdapi/v1/schedulers":
      return void send(
        res,
        200,
        SCHEDULERS.map(([name, label]) => ({ name, label, aliases: null, default_rho: -1, need_inner_model: false })),
      );
    default:
      return void send(res, 404, { detail: "Not Found" });
  }
};

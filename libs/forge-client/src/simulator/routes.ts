import type { IncomingMessage, ServerResponse } from "node:http";
import type { SimulatorEngine } from "./engine";
import { failureBody, faultInPrompt, parseTxt2Img, type SimulatorFault } from "./faults";

const SAMPLERS = ["Euler", "Euler a", "DPM++ 2M", "DPM++ 2M SDE", "DDIM", "UniPC"];
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
  /** The next injected fault, if any (consumed). */
  readonly takeFault: () => SimulatorFault | undefined;
}

const send = (res: ServerResponse, status: number, body: unknown): boolean => {
  // The client may be long gone (Forge keeps working after a disconnect); then there is nobody to answer.
  if (res.destroyed || res.socket === null || res.socket.destroyed) return false;
  res.writeHead(status, { "content-type": "application/json" });
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

const jsonError = (res: ServerResponse) =>
  send(res, 422, { detail: [{ loc: ["body", 0], msg: "JSON decode error", type: "json_invalid" }] });

const txt2img = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const json = parseJson(await readBody(req));
  if (!json.ok) return void jsonError(res);
  const parsed = parseTxt2Img(json.value);
  if (!parsed.ok) return void send(res, 422, { detail: parsed.issues });
  const fault = faultInPrompt(parsed.params.prompt) ?? ctx.takeFault();
  if (fault === "422") {
    const issue = { loc: ["body", "steps"], msg: "Input should be less than or equal to 150", type: "less_than_equal" };
    return void send(res, 422, { detail: [issue] });
  }
  if (fault === "nonjson") {
    res.writeHead(200, { "content-type": "text/html" });
    return void res.end("<!doctype html><html><body><h1>Stable Diffusion</h1></body></html>");
  }
  const outcome = await ctx.engine.run({
    params: parsed.params,
    fault,
    onStep: (step, steps) => {
      if (fault === "drop" && step >= Math.ceil(steps / 2)) req.socket.destroy();
    },
  });
  const parameters = json.value;
  const delivered =
    outcome.kind === "error"
      ? send(res, 500, failureBody(outcome.fault))
      : send(res, 200, {
          images: outcome.kind === "image" ? [outcome.png.toString("base64")] : [],
          parameters,
          info: outcome.info,
        });
  outcome.entry.delivered = delivered;
};

const setOptions = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const json = parseJson(await readBody(req));
  if (!json.ok || typeof json.value !== "object" || json.value === null) return void jsonError(res);
  const values = json.value as Record<string, unknown>;
  const checkpoint = values["sd_model_checkpoint"];
  if (typeof checkpoint === "string") {
    // Unlike txt2img's override_settings, POST /options refuses an unknown checkpoint.
    const loaded = await ctx.engine.loadModel(checkpoint);
    if (!loaded) {
      const errors = `model '${checkpoint}' not found`;
      return void send(res, 500, { error: "RuntimeError", detail: "", body: "", errors });
    }
  }
  Object.assign(ctx.options, values, { sd_model_checkpoint: ctx.engine.model.title });
  send(res, 200, null);
};

/** Answers one HTTP request the way Forge's `/sdapi/v1` does. */
export const handleRequest = async (ctx: RouteContext, req: IncomingMessage, res: ServerResponse): Promise<void> => {
  const path = new URL(req.url ?? "/", "http://simulator").pathname.replace(/\/+$/, "");
  const route = `${req.method ?? "GET"} ${path}`;
  switch (route) {
    case "POST /sdapi/v1/txt2img":
      return txt2img(ctx, req, res);
    case "GET /sdapi/v1/progress":
      return void send(res, 200, ctx.engine.progress());
    case "POST /sdapi/v1/interrupt":
      ctx.engine.interrupt();
      return void send(res, 200, {});
    case "GET /sdapi/v1/sd-models":
      return void send(res, 200, ctx.engine.models);
    case "GET /sdapi/v1/options":
      return void send(res, 200, { ...ctx.options, sd_model_checkpoint: ctx.engine.model.title });
    case "POST /sdapi/v1/options":
      return setOptions(ctx, req, res);
    case "GET /sdapi/v1/samplers":
      return void send(
        res,
        200,
        SAMPLERS.map((name) => ({ name, aliases: [], options: {} })),
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

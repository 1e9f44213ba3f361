import { request } from "node:http";
import { appRouter } from "@anvil/api";
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { occupyGpu, quick, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";
import { waitForStatus } from "./testing/wait";

type Schema = { $ref?: string; properties?: Record<string, Schema>; required?: string[]; items?: Schema };
type Doc = {
  paths: Record<string, { get?: Operation; post?: Operation }>;
  components: { schemas: Record<string, Schema> };
};
type Operation = {
  summary?: string;
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
  responses: Record<string, { content: { "application/json": { schema: Schema } } }>;
};

const dataSchema = (op: Operation): Schema =>
  op.responses["200"]!.content["application/json"].schema.properties!["result"]!.properties!["data"]!;

/**
 * Whether a body is one the document allows as `path`'s answer with `status`: its schema there, with its `$ref`s to
 * the document's components resolved, checked by a JSON Schema 2020-12 validator (OpenAPI 3.1's dialect). The
 * schemas of outputs forbid fields they do not name, so an answer with more, or with fewer, does not pass.
 */
function answerChecker(doc: Doc): (path: string, status: string, body: unknown) => string[] {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const id = "https://anvil.test/openapi.json";
  ajv.addSchema(doc, id);
  return (path, status, body) => {
    const method = doc.paths[`/trpc/${path}`]?.get ? "get" : "post";
    const operation = `/paths/${`/trpc/${path}`.replaceAll("/", "~1")}/${method}`;
    const pointer = `${operation}/responses/${status}/content/application~1json/schema`;
    const validate = ajv.getSchema(`${id}#${pointer}`);
    if (!validate) return [`no schema for ${status} at ${pointer}`];
    return validate(body) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`);
  };
}

/** The paths of the router's queries and mutations, each with the HTTP method that calls it. */
const procedures = () =>
  Object.entries(appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>)
    .filter(([, p]) => p._def.type !== "subscription")
    .map(([path, p]) => [path, p._def.type === "query" ? "get" : "post"] as const);

describe("/openapi.json", { timeout: 60_000 }, () => {
  const server = useTestServer(testDrivers()[0]!);
  let doc: Doc;
  let response: Response;

  beforeAll(async () => {
    response = await fetch(`${server().url}/openapi.json`);
    doc = (await response.clone().json()) as Doc;
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    // fetch takes gzip (and unzips it): 180 KB of JSON goes out as under a tenth of that.
    expect(response.headers.get("content-encoding")).toBe("gzip");
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc) as unknown as Parameters<Validator["validate"]>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("describes every query and mutation, debug.* too, each with its input and a real output schema", () => {
    expect(procedures().length).toBeGreaterThan(10);
    expect(procedures().map(([path]) => path)).toEqual(expect.arrayContaining(["debug.chart", "debug.timeline"]));
    for (const [path, method] of procedures()) {
      const operation = doc.paths[`/trpc/${path}`]?.[method];
      expect(operation, `${method.toUpperCase()} /trpc/${path}`).toBeDefined();
      // An output without a schema in output-schemas.ts would be `{}`, which says nothing to a caller.
      expect(dataSchema(operation!), `output of ${path}`).not.toEqual({});
    }
    expect(doc.paths["/trpc/jobs.get"]!.get!.parameters).toEqual([
      expect.objectContaining({ name: "input", in: "query" }),
    ]);
    expect(doc.paths["/trpc/jobs.submit"]!.post!.requestBody).toBeDefined();
  });

  it("names every field a real job carries, and only those", async () => {
    const { trpc } = server();
    const submitted = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("openapi"), ...quick });
    const job = await waitForStatus(trpc, submitted.id, "complete");
    const jobSchema = doc.components.schemas["Job"]!;
    expect(Object.keys(jobSchema.properties!).sort()).toEqual(Object.keys(job).sort());
    expect(jobSchema.required!.sort()).toEqual(Object.keys(job).sort());
    expect(Object.keys(jobSchema.properties!["params"]!.properties!).sort()).toEqual(Object.keys(job.params).sort());
    expect(dataSchema(doc.paths["/trpc/jobs.get"]!.get!)).toEqual({ $ref: "#/components/schemas/Job" });
  });

  it("documents the image a job's imageUrl names, and /healthz, as they answer", async () => {
    const { trpc, url } = server();
    const submitted = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("openapi image"), ...quick });
    const job = await waitForStatus(trpc, submitted.id, "complete");
    const image = doc.paths["/images/{jobId}.png"]?.get as unknown as {
      parameters: { name: string; in: string }[];
      responses: Record<string, { content?: Record<string, unknown> }>;
    };
    expect(image.parameters).toEqual([
      expect.objectContaining({ name: "jobId", in: "path" }),
      expect.objectContaining({ name: "Range", in: "header" }),
      expect.objectContaining({ name: "If-Range", in: "header" }),
      expect.objectContaining({ name: "If-None-Match", in: "header" }),
    ]);
    expect(job.imageUrl).toBe(`/images/${job.id}.png`);
    const fetched = await fetch(`${url}${job.imageUrl}`);
    expect(Object.keys(image.responses["200"]!.content!)).toContain(fetched.headers.get("content-type"));
    for (const range of ["bytes=0-3", "bytes=999999999-"]) {
      const ranged = await fetch(`${url}${job.imageUrl}`, { headers: { range } });
      expect(Object.keys(image.responses)).toContain(String(ranged.status));
      expect(ranged.status).not.toBe(200);
    }
    const missing = await fetch(`${url}/images/00000000-0000-4000-8000-000000000000.png`);
    expect(Object.keys(image.responses)).toContain(String(missing.status));
    // Where nobody signs in, an image asked for by another name than this machine's (DNS rebinding) is refused.
    const foreign = await new Promise<number>((resolve, reject) => {
      const asked = request(`${url}${job.imageUrl}`, { headers: { host: "evil.example" } }, (reply) => {
        reply.resume();
        resolve(reply.statusCode ?? 0);
      });
      asked.once("error", reject);
      asked.end();
    });
    expect(foreign).toBe(403);
    expect(Object.keys(image.responses)).toContain("403");

    const healthz = doc.paths["/healthz"]?.get as unknown as {
      responses: Record<string, { content: { "application/json": { schema: Schema } } }>;
    };
    const answer = await fetch(`${url}/healthz`);
    const schema = healthz.responses[String(answer.status)]!.content["application/json"].schema;
    const body = (await answer.json()) as Record<string, unknown>;
    expect(Object.keys(schema.properties!)).toEqual(expect.arrayContaining(Object.keys(body)));
    expect(Object.keys(body)).toEqual(expect.arrayContaining(schema.required!));
  });

  it("documents the HTTP shape that answers: GET with ?input= and POST with a JSON body", async () => {
    const { url } = server();
    const created = await fetch(`${url}/trpc/conversations.create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ title: "from curl" }),
    });
    const { result } = (await created.json()) as { result: { data: { id: string; title: string } } };
    expect(result.data.title).toBe("from curl");
    const input = encodeURIComponent(JSON.stringify({ conversationId: result.data.id }));
    const listed = await fetch(`${url}/trpc/messages.list?input=${input}`);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ result: { data: [] } });
    const bad = await fetch(`${url}/trpc/jobs.get?input=${encodeURIComponent(JSON.stringify({ jobId: "nope" }))}`);
    expect(bad.status).toBe(400);
    const error = (await bad.json()) as { error: { message: string; data: { code: string; httpStatus: number } } };
    expect(error.error.data).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(error.error.message).toContain("jobId");
  });

  it("gives each operation a summary, the 404 and 409 only where that operation can answer them, and 403 on all", async () => {
    const operations = Object.entries(doc.paths).map(([path, item]) => [path, (item.get ?? item.post)!] as const);
    for (const [path, operation] of operations) expect(operation.summary, path).toMatch(/^[A-Z].{8,}/);
    const errorsOf = (path: string) =>
      Object.keys(doc.paths[`/trpc/${path}`]!.get?.responses ?? doc.paths[`/trpc/${path}`]!.post!.responses);
    // Any call may be refused for its Host (where nobody signs in) or as a foreign page's: 403 is everywhere.
    expect(errorsOf("health")).toContain("403");
    expect(errorsOf("health")).not.toContain("404");
    expect(errorsOf("queue.pause")).toContain("403");
    expect(errorsOf("jobs.cancel")).toEqual(expect.arrayContaining(["400", "401", "403", "404", "409", "503"]));
    expect(errorsOf("health")).not.toContain("409");

    // What the server answers is among what the document says.
    const { trpc, url } = server();
    const unknown = encodeURIComponent(JSON.stringify({ jobId: "00000000-0000-4000-8000-000000000000" }));
    expect(errorsOf("jobs.get")).toContain(String((await fetch(`${url}/trpc/jobs.get?input=${unknown}`)).status));
    const job = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("openapi cancel twice"), ...quick });
    await waitForStatus(trpc, job.id, "complete");
    const cancel = await fetch(`${url}/trpc/jobs.cancel`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jobId: job.id }),
    });
    expect(cancel.status).toBe(409);
    expect(errorsOf("jobs.cancel")).toContain("409");
  });

  it("lists 412 for the inspector's data, which answers it while inspection is off, not for its chart", async () => {
    const { url } = server();
    const errorsOf = (path: string) => Object.keys(doc.paths[`/trpc/${path}`]!.get!.responses);
    for (const path of ["debug.scheduler", "debug.actors", "debug.timeline"]) expect(errorsOf(path)).toContain("412");
    for (const path of ["debug.chart", "debug.status", "jobs.get"]) expect(errorsOf(path)).not.toContain("412");
    expect(errorsOf("debug.timeline")).toContain("404");
    expect(errorsOf("debug.scheduler")).not.toContain("404");
    // This server runs without inspection (the default of a test server).
    const check = answerChecker(doc);
    const refused = await fetch(`${url}/trpc/debug.scheduler`);
    expect(refused.status).toBe(412);
    expect(check("debug.scheduler", "412", await refused.json())).toEqual([]);
    const status = await fetch(`${url}/trpc/debug.status`);
    expect(status.status).toBe(200);
    expect(check("debug.status", "200", await status.json())).toEqual([]);
  });

  it("says in its patterns what the server refuses of a submission's text: a blank prompt, a callback not over http(s)", () => {
    // The first schema under jobs.submit's request body that has `name` among its properties.
    const find = (node: unknown, name: string): { pattern?: string } | undefined => {
      if (typeof node !== "object" || node === null) return undefined;
      const properties = (node as { properties?: Record<string, unknown> }).properties;
      if (properties?.[name] !== undefined) return properties[name] as { pattern?: string };
      for (const child of Object.values(node)) {
        const found = find(child, name);
        if (found) return found;
      }
      return undefined;
    };
    const body = doc.paths["/trpc/jobs.submit"]!.post!.requestBody;
    const matches = (name: string, value: string) => {
      // The string's own schema, or the string among `anyOf` where null is allowed too.
      const property = find(body, name) as { pattern?: string; anyOf?: { pattern?: string }[] } | undefined;
      const pattern = property?.pattern ?? property?.anyOf?.find((option) => option.pattern)?.pattern;
      expect(pattern, name).toBeDefined();
      return new RegExp(pattern!, "u").test(value);
    };
    expect(matches("prompt", " \t")).toBe(false);
    expect(matches("prompt", " a cat ")).toBe(true);
    expect(matches("callbackUrl", "ftp://hooks.example/anvil")).toBe(false);
    expect(matches("callbackUrl", "HTTPS://hooks.example/anvil")).toBe(true);
  });
});

describe("/openapi.json and the inspector's answers, inspection on", { timeout: 60_000 }, () => {
  const server = useTestServer(testDrivers()[0]!, { inspect: "on" });

  it("documents each debug query's answer as the server gives it, nested records and all", async () => {
    const { trpc, url } = server();
    const doc = (await (await fetch(`${url}/openapi.json`)).json()) as Doc;
    const check = answerChecker(doc);
    // A job that ran and ended (a finished actor, a dispatch, a timeline), one on the GPU and one waiting behind it.
    const done = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("openapi inspected"), ...quick });
    await waitForStatus(trpc, done.id, "complete");
    const blocker = await occupyGpu(server());
    const waiting = await trpc.jobs.submit.mutate({ prompt: uniquePrompt("openapi waiting"), ...quick });

    const answer = async (path: string, input?: unknown) => {
      const query = input === undefined ? "" : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      const response = await fetch(`${url}/trpc/${path}${query}`);
      expect(response.status, path).toBe(200);
      const body = (await response.json()) as { result: { data: Record<string, unknown> } };
      expect(dataSchema(doc.paths[`/trpc/${path}`]!.get!), path).not.toEqual({});
      expect(check(path, "200", body), path).toEqual([]);
      return body;
    };
    const answers = {
      chart: await answer("debug.chart"),
      status: await answer("debug.status"),
      scheduler: await answer("debug.scheduler"),
      actors: await answer("debug.actors", { limit: 10 }),
      timeline: await answer("debug.timeline", { jobId: done.id }),
      running: await answer("debug.timeline", { jobId: blocker.id }),
    };
    // What was checked holds the nested parts, not empty lists: the schemas of those were checked too.
    const data = <T>(body: { result: { data: Record<string, unknown> } }, key: string) => body.result.data[key] as T;
    expect(data<unknown[]>(answers.scheduler, "queue")).toEqual([expect.objectContaining({ jobId: waiting.id })]);
    expect(data<unknown[]>(answers.scheduler, "dispatches").length).toBeGreaterThan(0);
    expect(data<unknown>(answers.status, "ring")).not.toBeNull();
    expect(data<unknown[]>(answers.actors, "alive").length).toBe(2);
    expect(data<unknown[]>(answers.actors, "finished")).toEqual(
      expect.arrayContaining([expect.objectContaining({ jobId: done.id })]),
    );
    const events = data<{ type: string; payloadSummary: unknown; contextDiff: unknown }[]>(answers.timeline, "events");
    expect(events.some((e) => e.type === "@xstate.event" && e.payloadSummary !== null)).toBe(true);
    expect(events.some((e) => e.type === "@xstate.snapshot" && e.contextDiff !== null)).toBe(true);
    expect(data<unknown>(answers.timeline, "dispatch")).not.toBeNull();
    expect(data<unknown[]>(answers.running, "events").length).toBeGreaterThan(0);

    // The check has teeth: a field the document does not name, or a nested one of the wrong type, does not pass.
    const timeline = answers.timeline.result.data;
    const [first, ...rest] = events;
    expect(check("debug.timeline", "200", { result: { data: { ...timeline, extra: 1 } } })).not.toEqual([]);
    const badEvent = { ...first, seq: String((first as unknown as { seq: number }).seq) };
    expect(check("debug.timeline", "200", { result: { data: { ...timeline, events: [badEvent, ...rest] } } })).toEqual([
      expect.stringContaining("/result/data/events/0/seq"),
    ]);
  });
});

import type { AnyTRPCRouter } from "@trpc/server";
import { z } from "zod";
import { operations } from "./operations";
import type { OperationDoc, OperationError } from "./operations";
import { outputSchemas } from "./output-schemas";

type JsonSchema = Record<string, unknown>;

const errorShape: JsonSchema = {
  type: "object",
  description: "A tRPC error. `data.code` names it (BAD_REQUEST, NOT_FOUND, CONFLICT …); `message` says what is wrong.",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["message", "code", "data"],
      properties: {
        message: { type: "string", description: "for bad input, names the field and the limit" },
        code: { type: "integer", description: "JSON-RPC error number, e.g. -32600 for BAD_REQUEST" },
        data: {
          type: "object",
          required: ["code", "httpStatus"],
          properties: {
            code: { type: "string", examples: ["BAD_REQUEST", "NOT_FOUND", "CONFLICT", "UNAUTHORIZED"] },
            httpStatus: { type: "integer" },
            path: { type: "string" },
            fields: { type: "array", items: { type: "string" }, description: "bad input: one message per field" },
          },
        },
      },
    },
  },
};

// The errors a call may meet: 404, 409 and 412 only where its operation says so (operations.ts), the others on any
// call (docs/API.md says which procedure gives which, and why).
const ERRORS: [status: string, when: string][] = [
  ["400", "BAD_REQUEST: bad input (the message names the field), or a body that is not UTF-8"],
  [
    "401",
    "UNAUTHORIZED: sign-in is required (API_TOKEN, users or AUTH_PROXY_HEADER) and the request carries no valid token, session or proxy header",
  ],
  [
    "403",
    "FORBIDDEN: an admin-only call (users.*, cluster.servers, queue.pause and queue.resume, debug.* except debug.chart and debug.status, a priority above 0, jobs.move with global, jobs.cancelWaiting with everyone or another user's owner, jobs.list with another user's owner) by a user who is not an admin; or, on any call, a Host this server does not answer to where nobody signs in, or a POST without a body or with a form's content-type from another site's page without a Bearer token",
  ],
  ["404", "NOT_FOUND: an unknown id, or another user's job"],
  ["405", "METHOD_NOT_SUPPORTED: another method than the operation's; the Allow header names it"],
  ["408", "TIMEOUT: the request (its headers and body) did not arrive whole within 300 s"],
  ["409", "CONFLICT: the job's state forbids it, or an idempotencyKey was used for another request"],
  [
    "412",
    "PRECONDITION_FAILED: inspection is off (debug.*: the server runs without ANVIL_INSPECT); the message says how to turn it on",
  ],
  ["413", "PAYLOAD_TOO_LARGE: the body is over 256 KiB (32 MiB for a jobs.submitMany sent alone)"],
  ["415", "UNSUPPORTED_MEDIA_TYPE: a body that is not uncompressed JSON in UTF-8"],
  [
    "429",
    "TOO_MANY_REQUESTS: jobs.submit or jobs.submitMany past MAX_QUEUED_PER_USER queued jobs of the caller's; or, on any path, too many failed sign-ins from this address (Retry-After says when to try again)",
  ],
  ["431", "The request's URL or headers are too long (data.code BAD_REQUEST)"],
  [
    "502",
    "BAD_GATEWAY: in a cluster, a call that changes something reached the leader, which went away before it answered: it may or may not have taken effect (look, or send a submission again with the same idempotencyKey). Submissions, cancels, moves, pauses and resumes are sent to the next leader instead, where a submission finds the job it made",
  ],
  [
    "503",
    "SERVICE_UNAVAILABLE: the database does not answer, or a cluster is between leaders; nothing was lost, try again",
  ],
];

/** The errors only some operations give. */
const OWN_ERRORS: ReadonlySet<string> = new Set<OperationError>(["404", "409", "412"]);

/** The errors whose answer carries Retry-After, in seconds. */
const RETRY_AFTER = new Set(["429", "503"]);

/** The JSON Schema of one zod schema, its `$defs` lifted into the document's components. */
function toSchema(schema: z.ZodType, io: "input" | "output", components: Record<string, JsonSchema>): JsonSchema {
  const generated = z.toJSONSchema(schema, { io, target: "draft-2020-12", unrepresentable: "any" });
  // A `$ref` to a named schema (`.meta({ id })`) points at the document's components instead of local `$defs`.
  const relinked = JSON.parse(
    JSON.stringify(generated).replaceAll('"#/$defs/', '"#/components/schemas/'),
  ) as JsonSchema;
  const { $schema: _, $defs, ...rest } = relinked as JsonSchema & { $defs?: Record<string, JsonSchema> };
  Object.assign(components, $defs);
  return rest;
}

interface ProcedureDef {
  type: "query" | "mutation" | "subscription";
  inputs: unknown[];
}

/**
 * An OpenAPI 3.1 document of every query and mutation of `router`, built from the zod schemas the router validates
 * its inputs with and the output schemas in output-schemas.ts, in tRPC's HTTP shape (no data transformer):
 * a query is `GET /trpc/<path>?input=<url-encoded JSON>`, a mutation `POST /trpc/<path>` with the input as its
 * JSON body; the answer is `{"result":{"data":…}}`, an error `{"error":{…}}`.
 */
export function openApiDocument(router: AnyTRPCRouter, info: { version: string }): JsonSchema {
  const components: Record<string, JsonSchema> = { Error: errorShape };
  const paths: Record<string, JsonSchema> = {};
  const procedures = router._def.procedures as Record<string, { _def: ProcedureDef }>;
  for (const [path, procedure] of Object.entries(procedures).sort(([a], [b]) => a.localeCompare(b))) {
    const { type, inputs } = procedure._def;
    if (type === "subscription") continue;
    const input = inputs[0] as z.ZodType | undefined;
    const inputSchema = input ? toSchema(input, "input", components) : undefined;
    const output = (outputSchemas as Record<string, z.ZodType>)[path];
    const about = (operations as Record<string, OperationDoc>)[path];
    const data = output ? toSchema(output, "output", components) : {};
    const responses: JsonSchema = {
      "200": {
        description: "The procedure's output, as `result.data`",
        content: {
          "application/json": {
            schema: {
              type: "object",
              required: ["result"],
              properties: { result: { type: "object", required: ["data"], properties: { data } } },
            },
          },
        },
      },
    };
    for (const [status, description] of ERRORS) {
      if (OWN_ERRORS.has(status) && !about?.errors.includes(status as OperationError)) continue;
      responses[status] = {
        description,
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        ...(RETRY_AFTER.has(status)
          ? {
              headers: {
                "Retry-After": {
                  description:
                    "seconds to wait: on a 503, and on a 429 for failed sign-ins (not on one for MAX_QUEUED_PER_USER)",
                  schema: { type: "integer" },
                },
              },
            }
          : {}),
      };
    }
    const operation: JsonSchema = {
      operationId: path,
      ...(about ? { summary: about.summary } : {}),
      ...(about?.description ? { description: about.description } : {}),
      tags: [path.split(".")[0]],
      responses,
    };
    if (type === "query") {
      if (inputSchema) {
        operation["parameters"] = [
          {
            name: "input",
            in: "query",
            required: !isOptional(input),
            description: "The input as JSON, URL-encoded",
            content: { "application/json": { schema: inputSchema } },
          },
        ];
      }
      paths[`/trpc/${path}`] = { get: operation };
    } else {
      if (inputSchema) {
        operation["requestBody"] = {
          required: !isOptional(input),
          content: { "application/json": { schema: inputSchema } },
        };
      }
      paths[`/trpc/${path}`] = { post: operation };
    }
  }
  Object.assign(paths, httpPaths());
  return {
    openapi: "3.1.0",
    info: {
      title: "Anvil",
      version: info.version,
      description:
        "Anvil's tRPC API over plain HTTP. Queries: GET /trpc/<path>?input=<url-encoded JSON>. Mutations: POST " +
        '/trpc/<path> with a JSON body. Answers: {"result":{"data":…}}; errors: {"error":{"message","code","data":{"code","httpStatus"}}}. ' +
        "Subscriptions (jobs.events, conversations.events, debug.inspect) are Server-Sent Events on GET " +
        "/trpc/<path>?input=…, or the tRPC WebSocket protocol on /trpc (see docs/API.md). Batches (/trpc/a,b?batch=1, 207 when their answers " +
        "differ) are tRPC's own, also in docs/API.md. With API_TOKEN set, send Authorization: Bearer <token>.",
    },
    servers: [{ url: "/" }],
    tags: [
      {
        name: "debug",
        description:
          "The inspector's own queries, for the /inspect page (docs/DEBUGGING.md): the state machines' charts, the " +
          "scheduler's line and GPUs, the job actors and their recorded XState events. Except debug.chart and " +
          "debug.status they are admin only and answer 412 (PRECONDITION_FAILED) while inspection is off " +
          "(ANVIL_INSPECT=0, or NODE_ENV=production without ANVIL_INSPECT=1). Their shapes are those that page reads " +
          "and docs/DEBUGGING.md shows.",
      },
    ],
    security: [{}, { bearer: [] }],
    paths,
    components: { schemas: components, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
  };
}

/** Whether the procedure may be called without input (no body, no `?input=`). */
const isOptional = (schema: z.ZodType | undefined): boolean => !schema || schema.safeParse(undefined).success;

const errorReply = (description: string): JsonSchema => ({
  description,
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/**
 * The plain HTTP paths a service in another language needs besides the procedures: the image a finished job's
 * `imageUrl` names, and the readiness check. Without them a client generated from this document could submit a job
 * but not fetch its image.
 */
function httpPaths(): Record<string, JsonSchema> {
  const binary = { type: "string", contentEncoding: "binary" };
  const imageContent = {
    "image/png": { schema: binary },
    "image/jpeg": { schema: binary },
    "image/webp": { schema: binary },
  };
  const imageHeaders = {
    "Accept-Ranges": { description: "bytes", schema: { const: "bytes" } },
    ETag: { description: '"<jobId>"', schema: { type: "string" } },
  };
  return {
    "/images/{jobId}.png": {
      get: {
        operationId: "image",
        summary: "A finished job's image: the path its Job's imageUrl names",
        description:
          "image/png, or image/jpeg or image/webp when Forge's samples_format makes it so (the same URL); " +
          "content-disposition names it anvil-<jobId>.png, .jpg or .webp. HEAD answers the same without the body. " +
          'One byte range (RFC 9110) is served as a 206; ETag is "<jobId>", strong: an image never changes.',
        tags: ["images"],
        parameters: [
          { name: "jobId", in: "path", required: true, schema: { type: "string", format: "uuid" } },
          {
            name: "Range",
            in: "header",
            required: false,
            description:
              "One byte range: bytes=a-b, bytes=a- or bytes=-n (the last n bytes). A malformed one, another unit or " +
              "several ranges get the whole image (200); HEAD ignores it",
            schema: { type: "string", examples: ["bytes=0-1023"] },
          },
          {
            name: "If-Range",
            in: "header",
            required: false,
            description: "The image's ETag: the range applies only when it matches, the whole image (200) otherwise",
            schema: { type: "string" },
          },
          {
            name: "If-None-Match",
            in: "header",
            required: false,
            description: "ETags (or *): 304 when the image's is among them",
            schema: { type: "string" },
          },
        ],
        responses: {
          "200": {
            description: "The image",
            headers: imageHeaders,
            content: imageContent,
          },
          "206": {
            description: "The range asked for, alone",
            headers: {
              ...imageHeaders,
              "Content-Range": { description: "bytes a-b/<size>", schema: { type: "string" } },
            },
            content: imageContent,
          },
          "304": { description: "If-None-Match named the image's ETag", headers: imageHeaders },
          "416": {
            ...errorReply("The range starts past the image's end (or is bytes=-0)"),
            headers: {
              "Content-Range": { description: "bytes */<size>", schema: { type: "string" } },
            },
          },
          "401": errorReply("UNAUTHORIZED: sign-in is required and the request carries no valid token or session"),
          "403": errorReply(
            "FORBIDDEN: a Host this server does not answer to, where nobody signs in (a page on another site's name " +
              "that resolves to this machine)",
          ),
          "404": errorReply("NOT_FOUND: no such job, another user's, or it has no image (not complete)"),
          "405": errorReply("METHOD_NOT_SUPPORTED: a method other than GET or HEAD"),
        },
      },
    },
    "/healthz": {
      get: {
        operationId: "healthz",
        summary: "Readiness of this server, for a load balancer: open, no sign-in",
        tags: ["health"],
        security: [{}],
        responses: {
          "200": { description: "This server takes requests", content: { "application/json": { schema: readiness } } },
          "503": {
            description:
              "Its database does not answer or refuses writes, it is stopping after a SIGTERM, or (a follower) its " +
              "leader does not answer; Retry-After says when to look again",
            headers: { "Retry-After": { description: "seconds", schema: { type: "integer" } } },
            content: { "application/json": { schema: readiness } },
          },
        },
      },
    },
  };
}

const readiness: JsonSchema = {
  type: "object",
  required: ["ok", "role", "database", "stopping"],
  properties: {
    ok: { type: "boolean" },
    role: { enum: ["single", "leader", "follower"] },
    database: { enum: ["up", "down"] },
    stopping: { type: "boolean" },
    leader: { const: "unreachable", description: "a follower that cannot reach its leader" },
  },
};

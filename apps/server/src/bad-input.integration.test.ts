import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyValue } from "./testing/arbitraries";
import { rawGet, rawRequest, sseError, statusLine } from "./testing/raw-http";
import type { WireError } from "./testing/raw-http";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

/** The answer to one raw tRPC call. */
interface Answer {
  status: number;
  error: WireError | undefined;
}

const answer = async (response: Response): Promise<Answer> => {
  const text = await response.text();
  const body = text ? (JSON.parse(text) as { error?: WireError }) : {};
  return { status: response.status, error: body.error };
};

/** Input that is JSON-serialisable, or a raw string sent exactly as is. */
type Input = unknown;

const raw = (text: string) => ({ raw: text });
const encode = (input: Input): string =>
  typeof input === "object" && input !== null && "raw" in input ? String(input.raw) : JSON.stringify(input);

const longText = (n: number) => "a".repeat(n);
const unknownId = randomUUID();

/** [why, input, the field the message must name]. */
type Case = [string, Input, string];

const submitCases: Case[] = [
  ["the prompt is missing", {}, "prompt"],
  ["the prompt is empty", { prompt: "" }, "prompt"],
  ["the prompt is blank", { prompt: " \t\n " }, "prompt"],
  ["the prompt has 4001 characters", { prompt: longText(4001) }, "prompt"],
  ["the prompt is a number", { prompt: 42 }, "prompt"],
  ["the prompt is null", { prompt: null }, "prompt"],
  ["the prompt contains a NUL character", { prompt: "a\u0000b" }, "prompt"],
  ["the prompt contains an unpaired surrogate", raw('{"prompt":"a\\ud800b"}'), "prompt"],
  ["the negativePrompt has 4001 characters", { prompt: "x", negativePrompt: longText(4001) }, "negativePrompt"],
  ["the negativePrompt contains a NUL character", { prompt: "x", negativePrompt: "\u0000" }, "negativePrompt"],
  ["the width is 100, not a multiple of 8", { prompt: "x", width: 100 }, "width"],
  ["the width is 4096", { prompt: "x", width: 4096 }, "width"],
  ["the width is nested under a params the procedure does not take", { prompt: "x", params: { width: 512 } }, "params"],
  ["a field name is misspelt", { prompt: "x", witdh: 512 }, "witdh"],
  ["the width is 56, below 64", { prompt: "x", width: 56 }, "width"],
  ["the width is a string", { prompt: "x", width: "1024" }, "width"],
  ["the width is fractional", { prompt: "x", width: 512.5 }, "width"],
  ["the height is 0", { prompt: "x", height: 0 }, "height"],
  ["the height is 2056", { prompt: "x", height: 2056 }, "height"],
  ["steps is 0", { prompt: "x", steps: 0 }, "steps"],
  ["steps is 151", { prompt: "x", steps: 151 }, "steps"],
  ["steps is a boolean", { prompt: "x", steps: true }, "steps"],
  ["cfgScale is 31", { prompt: "x", cfgScale: 31 }, "cfgScale"],
  ["cfgScale is negative", { prompt: "x", cfgScale: -0.5 }, "cfgScale"],
  ["cfgScale overflows to Infinity", raw('{"prompt":"x","cfgScale":1e400}'), "cfgScale"],
  ["seed is -2", { prompt: "x", seed: -2 }, "seed"],
  ["seed is 4294967296", { prompt: "x", seed: 4294967296 }, "seed"],
  ["seed is fractional", { prompt: "x", seed: 1.5 }, "seed"],
  ["seed is a string", { prompt: "x", seed: "42" }, "seed"],
  ["sampler is empty", { prompt: "x", sampler: "" }, "sampler"],
  ["sampler is a number", { prompt: "x", sampler: 5 }, "sampler"],
  ["checkpoint is empty", { prompt: "x", checkpoint: "" }, "checkpoint"],
  ["checkpoint is unknown to the backend", { prompt: "x", checkpoint: "no-such-model" }, "checkpoint"],
  ["conversationId is not a UUID", { prompt: "x", conversationId: "123" }, "conversationId"],
  ["conversationId is a number", { prompt: "x", conversationId: 7 }, "conversationId"],
  ["idempotencyKey is empty", { prompt: "x", idempotencyKey: "" }, "idempotencyKey"],
  ["idempotencyKey has 201 characters", { prompt: "x", idempotencyKey: longText(201) }, "idempotencyKey"],
  ["idempotencyKey is an object", { prompt: "x", idempotencyKey: { a: 1 } }, "idempotencyKey"],
];

const jobIdCases: Case[] = [
  ["jobId is missing", {}, "jobId"],
  ["jobId is not a UUID", { jobId: "abc" }, "jobId"],
  ["jobId is a UUID with junk after it", { jobId: `${unknownId}x` }, "jobId"],
  ["jobId is a number", { jobId: 123 }, "jobId"],
  ["jobId is an array", { jobId: [unknownId] }, "jobId"],
  ["a field besides jobId is given", { jobId: unknownId, id: unknownId }, '"id"'],
];

const listCases: Case[] = [
  ["limit is 0", { limit: 0 }, "limit"],
  ["limit is 501", { limit: 501 }, "limit"],
  ["limit is a string", { limit: "10" }, "limit"],
  ["status is not a list", { status: "queued" }, "status"],
  ["status lists an unknown status", { status: ["bogus"] }, "status"],
  ["conversationId is not a UUID", { conversationId: "abc" }, "conversationId"],
  ["cursor was not handed out", { cursor: "abc" }, "cursor"],
  ["cursor is past the safe integers", { cursor: "9999999999999999" }, "cursor"],
  ["cursor is a number", { cursor: 5 }, "cursor"],
  ["owner contains a NUL character", { owner: "a\u0000b" }, "owner"],
  ["owner contains an unpaired surrogate", raw('{"owner":"a\\ud800"}'), "owner"],
];

const conversationIdCases: Case[] = [
  ["conversationId is missing", {}, "conversationId"],
  ["conversationId is not a UUID", { conversationId: "abc" }, "conversationId"],
  ["conversationId is null", { conversationId: null }, "conversationId"],
];

const titleCases: Case[] = [
  ["title is a number", { title: 5 }, "title"],
  ["title has 201 characters", { title: longText(201) }, "title"],
  ["title contains a NUL character", { title: "a\u0000" }, "title"],
];

const eventsCases: Case[] = [
  ["jobId is not a UUID", { jobId: "abc" }, "jobId"],
  ["conversationId is not a UUID", { conversationId: "abc" }, "conversationId"],
  ["lastEventId is not an event id", { lastEventId: "abc" }, "lastEventId"],
  ["lastEventId is a number", { lastEventId: 5 }, "lastEventId"],
];

describe.each(testDrivers())("bad input on $kind", (driver) => {
  const server = useTestServer(driver);
  const query = async (path: string, input?: Input) =>
    answer(
      await fetch(
        `${server().url}/trpc/${path}${input === undefined ? "" : `?input=${encodeURIComponent(encode(input))}`}`,
      ),
    );
  const mutate = async (path: string, input: Input) =>
    answer(
      await fetch(`${server().url}/trpc/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: encode(input),
      }),
    );
  const expectBadRequest = ({ status, error }: Answer, field: string) => {
    expect(status).toBe(400);
    expect(error?.data.code).toBe("BAD_REQUEST");
    expect(error?.message).toContain(field);
  };

  describe("jobs.submit", () => {
    it.each(submitCases)("is 400 naming the field when %s", async (_, input, field) => {
      expectBadRequest(await mutate("jobs.submit", input), field);
    });

    it("is 400 when the input is not an object", async () => {
      for (const input of [null, [], "prompt", 5]) expect((await mutate("jobs.submit", input)).status).toBe(400);
    });

    it("accepts no job when the input was refused", async () => {
      const { anvil } = server();
      const before = (await anvil.store.listJobs({ limit: 500 })).items.length;
      await mutate("jobs.submit", { prompt: "x", width: 100 });
      expect((await anvil.store.listJobs({ limit: 500 })).items.length).toBe(before);
    });
  });

  describe.each(["jobs.get", "jobs.cancel"])("%s", (path) => {
    const call = (input: Input) => (path === "jobs.get" ? query(path, input) : mutate(path, input));

    it.each(jobIdCases)("is 400 naming the field when %s", async (_, input, field) => {
      expectBadRequest(await call(input), field);
    });

    it("is 404 NOT_FOUND for a job id that does not exist", async () => {
      const { status, error } = await call({ jobId: unknownId });
      expect(status).toBe(404);
      expect(error?.data.code).toBe("NOT_FOUND");
    });
  });

  describe("jobs.list", () => {
    it.each(listCases)("is 400 naming the field when %s", async (_, input, field) => {
      expectBadRequest(await query("jobs.list", input), field);
    });
  });

  describe("messages.list", () => {
    it.each(conversationIdCases)("is 400 naming the field when %s", async (_, input, field) => {
      expectBadRequest(await query("messages.list", input), field);
    });

    it("is 404 NOT_FOUND for a conversation that does not exist", async () => {
      const { status, error } = await query("messages.list", { conversationId: unknownId });
      expect(status).toBe(404);
      expect(error?.data.code).toBe("NOT_FOUND");
    });
  });

  describe("conversations.create", () => {
    it.each(titleCases)("is 400 naming the field when %s", async (_, input, field) => {
      expectBadRequest(await mutate("conversations.create", input), field);
    });
  });

  describe("users.remove", () => {
    it("is 400 naming the field when the name contains a NUL character", async () => {
      expectBadRequest(await mutate("users.remove", { name: "a\u0000" }), "name");
    });
  });

  describe("jobs.events", () => {
    it.each(eventsCases)("is BAD_REQUEST naming the field when %s", async (_, input, field) => {
      const { status, error } = await sseError(server().url, "jobs.events", input);
      expect(status).toBeLessThan(500);
      expect(error?.data).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
      expect(error?.message).toContain(field);
    });

    it("is NOT_FOUND for a job that does not exist", async () => {
      const { error } = await sseError(server().url, "jobs.events", { jobId: unknownId });
      expect(error?.data).toMatchObject({ code: "NOT_FOUND", httpStatus: 404 });
    });
  });

  describe("the HTTP layer", () => {
    it("is 400 for invalid JSON in the query string, saying that the input parameter is not JSON", async () => {
      const refused = await query("jobs.get", raw('{"jobId":'));
      expect(refused.status).toBe(400);
      expect(refused.error?.message).toMatch(/^The input query parameter is not JSON: /);
    });

    it("is 400 for a query string that is not valid URL encoding", async () => {
      expect((await rawGet(server().url, "/trpc/jobs.get?input=%E0%A4%A")).status).toBe(400);
    });

    it("is 400 for invalid JSON in a mutation's body, saying that the body is not JSON", async () => {
      const refused = await mutate("jobs.submit", raw('{"prompt": "x"'));
      expect(refused.status).toBe(400);
      expect(refused.error?.message).toMatch(/^The request's body is not JSON: /);
    });

    it("is 400 for junk after the JSON", async () => {
      expect((await mutate("jobs.submit", raw('{"prompt":"x"} junk'))).status).toBe(400);
      expect((await query("jobs.get", raw(`{"jobId":"${unknownId}"}junk`))).status).toBe(400);
    });

    it("is 413 for a body over 256 KB", async () => {
      const { status, error } = await mutate("jobs.submit", { prompt: "x", negativePrompt: longText(300 * 1024) });
      expect(status).toBe(413);
      expect(error?.data.code).toBe("PAYLOAD_TOO_LARGE");
      expect(error?.message).toContain("256 KiB");
    });

    it("is 415 naming the reason for a compressed body, an octet stream or a form", async () => {
      const post = (headers: Record<string, string>) =>
        fetch(`${server().url}/trpc/jobs.submit`, { method: "POST", headers, body: '{"prompt":"x"}' }).then(answer);
      for (const [headers, reason] of [
        [{ "content-type": "application/json", "content-encoding": "gzip" }, "Content-Encoding"],
        [{ "content-type": "application/octet-stream" }, "application/json"],
        [{ "content-type": "multipart/form-data; boundary=x" }, "application/json"],
        [{ "content-type": "text/plain" }, 'Unsupported content-type "text/plain": Anvil\'s procedures take JSON'],
        [{ "content-type": "application/jsonx" }, "application/json"],
        [{ "content-type": "application/json; charset=iso-8859-1" }, 'Unsupported charset "iso-8859-1"'],
      ] as const) {
        const { status, error } = await post(headers);
        expect(status).toBe(415);
        expect(error?.data.code).toBe("UNSUPPORTED_MEDIA_TYPE");
        expect(error?.message).toContain(reason);
      }
    });

    it("is 400 for a body that is not UTF-8, rather than a prompt stored with U+FFFD in its place", async () => {
      const post = (body: Buffer) =>
        fetch(`${server().url}/trpc/jobs.submit`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        }).then(answer);
      for (const bytes of [[0xe9], [0xff, 0xfe], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
        const body = Buffer.concat([Buffer.from('{"prompt":"caf'), Buffer.from(bytes), Buffer.from('"}')]);
        const { status, error } = await post(body);
        expect(status, bytes.join(" ")).toBe(400);
        expect(error?.message).toBe("The request's body is not valid UTF-8: Anvil reads JSON as UTF-8 text");
      }
      const { status } = await post(Buffer.from('{"prompt":"café ☕","width":64,"height":64,"steps":1}'));
      expect(status).toBe(200);
    });

    it("takes a POST with no body and no content-type as a call without input", async () => {
      const post = (path: string) => fetch(`${server().url}/trpc/${path}`, { method: "POST" }).then(answer);
      const created = await post("conversations.create");
      expect(created.status).toBe(200);
      // A procedure that needs input says which field is missing, rather than that the content-type is.
      const { status, error } = await post("jobs.submit");
      expect(status).toBe(400);
      expect(error?.data.code).toBe("BAD_REQUEST");
    });

    it("is 400 for a POST with ?input=, which tRPC would drop unsaid, and does nothing", async () => {
      const conversations = await server().trpc.conversations.list.query();
      const post = (path: string) => fetch(`${server().url}/trpc/${path}`, { method: "POST" }).then(answer);
      const input = encodeURIComponent(JSON.stringify({ title: "from the query string" }));
      for (const target of [`conversations.create?input=${input}`, `conversations.create?batch=1&input=${input}`]) {
        const { status, error } = await post(target);
        expect(status, target).toBe(400);
        expect(error?.message).toMatch(/^A POST carries its input as JSON in its body, not in \?input=/);
      }
      expect(await server().trpc.conversations.list.query()).toEqual(conversations);
    });

    it("is 405 for a query sent as POST and a mutation sent as GET", async () => {
      expect((await mutate("jobs.get", { jobId: unknownId })).status).toBe(405);
      expect((await query("jobs.submit", { prompt: "x" })).status).toBe(405);
    });

    it("is 400 naming the field for input sent to a procedure that takes none, and takes nothing, null or {}", async () => {
      for (const [call, path, input] of [
        [query, "me", { x: 1 }],
        [query, "queue.status", { all: true }],
        [query, "health", "verbose"],
        [mutate, "queue.resume", { bogus: true }],
      ] as const) {
        const { status, error } = await call(path, input);
        expect(status, path).toBe(400);
        expect(error?.data.code).toBe("BAD_REQUEST");
        expect(error?.message).toContain("this procedure takes no input");
        if (typeof input === "object") expect(error?.message).toContain(`unknown field "${Object.keys(input)[0]}"`);
      }
      for (const input of [undefined, null, {}]) expect((await query("me", input)).status).toBe(200);
      expect((await mutate("queue.resume", {})).status).toBe(200);
    });

    it("answers HEAD of a query as its GET, without the body", async () => {
      const head = await fetch(`${server().url}/trpc/health`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await head.text()).toBe("");
      expect((await fetch(`${server().url}/trpc/jobs.get?input=%7B%7D`, { method: "HEAD" })).status).toBe(400);
    });

    it("answers an unknown image, /trpc alone and a write to a page in the API's error shape", async () => {
      for (const [method, path, status, code] of [
        ["GET", `/images/${unknownId}.png`, 404, "NOT_FOUND"],
        ["GET", "/trpc", 404, "NOT_FOUND"],
        // A write to one of the app's pages; to a path that is none, NOT_FOUND (unknown-paths.integration.test.ts).
        ["POST", "/", 405, "METHOD_NOT_SUPPORTED"],
        ["POST", "/inspect", 405, "METHOD_NOT_SUPPORTED"],
        ["POST", "/somewhere", 404, "NOT_FOUND"],
      ] as const) {
        const reply = await answer(await fetch(`${server().url}${path}`, { method }));
        expect(reply.status, `${method} ${path}`).toBe(status);
        expect(reply.error?.data).toMatchObject({ code, httpStatus: status });
        expect(reply.error?.message).toBeTruthy();
      }
    });

    it("is 405 saying what to use, with Allow, for a procedure or an image asked with another method", async () => {
      const image = `/images/${unknownId}.png`;
      for (const [method, path, allow, use] of [
        ["OPTIONS", "/trpc/jobs.submit", "POST", "use POST"],
        ["DELETE", "/trpc/jobs.get", "GET, HEAD", "use GET or HEAD"],
        // The two that tRPC itself would refuse, with the same Allow as any other wrong method.
        ["POST", "/trpc/jobs.get", "GET, HEAD", "use GET or HEAD"],
        ["GET", "/trpc/jobs.submit", "POST", "use POST"],
        ["PUT", "/trpc/jobs.submit", "POST", "use POST"],
        ["PUT", "/trpc/jobs.nope", "GET, POST", "use GET for a query, POST for a mutation"],
        // A subscription's HEAD would hold a stream open that sends nothing; a POST is no way to open one.
        ["HEAD", "/trpc/jobs.events", "GET", null],
        ["POST", "/trpc/jobs.events", "GET", "use GET"],
        // Written as tRPC still reads them: with a trailing slash, or percent-encoded.
        ["HEAD", "/trpc/jobs.events/", "GET", null],
        ["HEAD", "/trpc/jobs%2Eevents", "GET", null],
        ["POST", "/trpc/health/", "GET, HEAD", "use GET or HEAD"],
        ["POST", image, "GET, HEAD", "use GET"],
        ["DELETE", image, "GET, HEAD", "use GET"],
        // The server's own read-only paths: the path exists, the method does not.
        ["POST", "/healthz", "GET, HEAD", "use GET"],
        ["PUT", "/metrics", "GET, HEAD", "use GET"],
        ["DELETE", "/openapi.json", "GET, HEAD", "use GET"],
      ] as const) {
        const reply = await fetch(`${server().url}${path}`, { method });
        const { status, error } = await answer(reply);
        expect(status, `${method} ${path}`).toBe(405);
        expect(reply.headers.get("allow")).toBe(allow);
        if (use === null) continue;
        expect(error?.data.code).toBe("METHOD_NOT_SUPPORTED");
        expect(error?.message).toContain(use);
      }
    });

    it("is 404 for a procedure that does not exist", async () => {
      for (const path of ["jobs.nope", "__proto__", "jobs.constructor", "toString"]) {
        expect((await query(path, {})).status).toBe(404);
      }
    });

    it("is 400 for a request-target that is no URL, with or without an Upgrade header, and the server goes on", async () => {
      const { url } = server();
      for (const target of ["//[", "http://["]) {
        const plain = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
        expect(statusLine(await rawRequest(url, plain))).toBe(400);
        const upgrade = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`;
        expect(statusLine(await rawRequest(url, upgrade))).toBe(400);
      }
      expect((await fetch(`${url}/trpc/health`)).status).toBe(200);
    });

    it("answers a request Node cannot parse (headers past 16 KB, not HTTP) or a CONNECT in the API's error shape, and goes on", async () => {
      const { url } = server();
      const long = `GET /trpc/jobs.list?input=${"x".repeat(17_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
      for (const [text, status, says] of [
        [long, 431, "over 16 KB"],
        ["HELLO THERE\r\n\r\n", 400, "not HTTP/1.1"],
        // A CONNECT, which Node would close without a word: Anvil is no proxy.
        ["CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405, "no proxy"],
      ] as const) {
        const answer = await rawRequest(url, text);
        expect(statusLine(answer)).toBe(status);
        const body = JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)) as { error: WireError };
        expect(body.error.message).toContain(says);
        expect(body.error.data.httpStatus).toBe(status);
      }
      expect((await fetch(`${url}/trpc/health`)).status).toBe(200);
    });

    it("answers a request that asks for another protocol than a WebSocket as an ordinary one", async () => {
      const { url } = server();
      const h2c = await rawRequest(
        url,
        "GET /trpc/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
      );
      expect(statusLine(h2c)).toBe(200);
      expect(h2c).toContain('"healthy"');
      const page = await rawRequest(
        url,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
      );
      expect(statusLine(page)).toBe(200);
      // A body Node left unparsed on the socket: refused, saying why, rather than read as empty.
      const post = await rawRequest(
        url,
        'POST /trpc/jobs.submit HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{"prompt":"x"}\n',
      );
      expect(statusLine(post)).toBe(400);
      expect(post).toContain("--http1.1");
    });

    it("is 400 naming the header, never a 5xx, for a Host with a user name in it (which names this machine) or no host at all", async () => {
      const { url } = server();
      for (const host of ["x@127.0.0.1", "user:pw@localhost", "a@[::1]:80", "localhost:abc", "[", "::1"]) {
        for (const request of [
          `GET /trpc/health HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          `POST /trpc/jobs.submit HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{"prompt":"x"}`,
          `GET /auth/status HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          `GET /trpc HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        ]) {
          const reply = await rawRequest(url, request);
          expect(statusLine(reply), `${host}: ${reply}`).toBe(400);
          expect(reply).toContain("Host header");
        }
      }
      expect((await fetch(`${url}/trpc/health`)).status).toBe(200);
    });

    it("is 404 for /trpc itself, which names no procedure (not the web app)", async () => {
      const response = await fetch(`${server().url}/trpc`);
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    });
  });

  describe("any input", () => {
    // Hostile strings: NUL, unpaired surrogates, SQL and JSON-looking text, very long text.
    const text = fc.oneof(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.constantFrom("\u0000", "\ud800", "\udfff x", "'; drop table jobs; --", "{}", "-1", longText(4000)),
    );
    const value = anyValue(text);
    const submitInput = fc.record(
      {
        prompt: text,
        negativePrompt: value,
        width: fc.oneof(fc.integer({ min: -10, max: 3000 }), value),
        height: fc.oneof(fc.integer({ min: -10, max: 3000 }), value),
        steps: fc.oneof(fc.constantFrom(1, 0, 151), value),
        cfgScale: value,
        seed: fc.oneof(fc.constantFrom(-1, -2, 4294967295, 4294967296, 2 ** 53, -(2 ** 53)), value),
        sampler: value,
        checkpoint: value,
        conversationId: fc.oneof(fc.uuid(), value),
        idempotencyKey: value,
      },
      { requiredKeys: [] },
    );

    it("never gets a 5xx from jobs.submit", async () => {
      await fc.assert(
        fc.asyncProperty(submitInput, async (input) => {
          const { status, error } = await mutate("jobs.submit", input);
          expect(status, `${error?.message ?? ""} for ${JSON.stringify(input)}`).toBeLessThan(500);
        }),
        { numRuns: 150 },
      );
    });

    it("never gets a 5xx from the queries", async () => {
      const paths = ["jobs.get", "jobs.list", "messages.list"];
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), async (path, input) => {
          const { status, error } = await query(path, input);
          expect(status, `${error?.message ?? ""} for ${path} ${JSON.stringify(input)}`).toBeLessThan(500);
        }),
        { numRuns: 150 },
      );
    });
  });
});

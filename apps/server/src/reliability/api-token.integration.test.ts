import type { Job } from "@anvil/job-machine";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { quick, uniquePrompt } from "../testing/fixtures";
import { rawGet } from "../testing/raw-http";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";
import { authorizedHttpClient, authorizedWsClient, upgrade, upgradeRefusal } from "./support/authorized-clients";
import { startInProcess } from "./support/in-process";
import type { InProcessServer } from "./support/in-process";

const TOKEN = "a-long-enough-api-token";
const BEARER = { authorization: `Bearer ${TOKEN}` };

/** One kind of request a client makes; `read` sends it with `headers` and returns the status and what came back. */
interface Guarded {
  what: string;
  /** What it answers with the token (cancelling a finished job is a CONFLICT, which shows the call got through). */
  authorized: number;
  read(headers: Record<string, string>): Promise<{ status: number; type: string | null; body: string }>;
}

/** Reads a response whole, or only its head for an event stream (which does not end). */
const readResponse = async (response: Response, abort: AbortController) => {
  const type = response.headers.get("content-type");
  const body = type?.startsWith("text/event-stream") ? "" : await response.text();
  abort.abort();
  return { status: response.status, type, body };
};

const get = (url: string) => async (headers: Record<string, string>) => {
  const abort = new AbortController();
  return readResponse(await fetch(url, { headers, signal: abort.signal }), abort);
};

const post = (url: string, input: unknown) => async (headers: Record<string, string>) => {
  const abort = new AbortController();
  const init = {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(input),
    signal: abort.signal,
  };
  return readResponse(await fetch(url, init), abort);
};

const query = (input: unknown) => encodeURIComponent(JSON.stringify(input));

describe("API_TOKEN", () => {
  const [pglite] = testDrivers();
  let database: TestDatabase | undefined;
  let running: InProcessServer | undefined;
  let finished: Job;
  /** `anvil_session=…`, as the login set it. */
  let sessionCookie = "";
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  beforeAll(async () => {
    database = await pglite!.create();
    // Every refusal below is a failed sign-in from this one address: the limit is the sign-in tests' business.
    running = await startInProcess(database, { apiToken: TOKEN, failedLoginLimit: 10_000 });
    const client = authorizedHttpClient(running.url, BEARER);
    finished = await client.jobs.submit.mutate({ prompt: uniquePrompt("behind a token"), ...quick });
    await waitForStatus(client, finished.id, "complete");
    sessionCookie = (await login(TOKEN)).cookie?.split(";")[0] ?? "";
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  /** Every guarded kind of request: queries (single and batched), mutations, an SSE subscription, an image, metrics. */
  const guarded = (): Guarded[] => {
    const { url } = running!;
    return [
      { authorized: 200, what: "GET /trpc/health", read: get(`${url}/trpc/health`) },
      {
        authorized: 200,
        what: "GET /trpc/jobs.get",
        read: get(`${url}/trpc/jobs.get?input=${query({ jobId: finished.id })}`),
      },
      {
        authorized: 200,
        what: "a batch of queries",
        read: get(`${url}/trpc/health,jobs.list?batch=1&input=${query({ 0: {}, 1: { limit: 1 } })}`),
      },
      {
        authorized: 200,
        what: "POST /trpc/jobs.submit",
        read: post(`${url}/trpc/jobs.submit`, { prompt: uniquePrompt("submitted"), ...quick }),
      },
      {
        authorized: 409,
        what: "POST /trpc/jobs.cancel",
        read: post(`${url}/trpc/jobs.cancel`, { jobId: finished.id }),
      },
      { authorized: 200, what: "POST /trpc/conversations.create", read: post(`${url}/trpc/conversations.create`, {}) },
      {
        authorized: 200,
        what: "the jobs.events subscription over SSE",
        read: get(`${url}/trpc/jobs.events?input=${query({})}`),
      },
      { authorized: 200, what: "the finished job's image", read: get(`${url}/images/${finished.id}.png`) },
      { authorized: 200, what: "GET /metrics", read: get(`${url}/metrics`) },
    ];
  };

  const login = async (token: unknown) => {
    const response = await fetch(`${running!.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    return { status: response.status, cookie: response.headers.get("set-cookie") };
  };

  const refusals: [string, Record<string, string>][] = [
    ["no credentials", {}],
    ["a wrong Bearer token", { authorization: "Bearer not-the-api-token" }],
    ["the token with a character missing", { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ["the token in another scheme", { authorization: `Basic ${TOKEN}` }],
    ["a wrong session cookie", { cookie: "anvil_session=not-a-session" }],
    ["the API token itself as the cookie", { cookie: `anvil_session=${TOKEN}` }],
  ];

  it.each(refusals)(
    "answers 401 to every API, subscription, image and metrics request with %s, and changes nothing",
    async (_, headers) => {
      const { anvil } = running!;
      const jobsBefore = (await anvil.store.listJobs({ limit: 500 })).items;
      const conversationsBefore = await anvil.store.listConversations();
      for (const request of guarded()) {
        const { status, body } = await request.read(headers);
        expect(status, `${request.what}: ${body}`).toBe(401);
        expect(body).not.toContain(finished.id);
      }
      expect((await anvil.store.listJobs({ limit: 500 })).items).toEqual(jobsBefore);
      expect(await anvil.store.listConversations()).toEqual(conversationsBefore);
    },
  );

  it("refuses a login with a wrong token, setting no cookie, and sets an HttpOnly session cookie for the right one", async () => {
    for (const wrong of ["not-the-api-token", ""]) {
      expect(await login(wrong)).toEqual({ status: 401, cookie: null });
    }
    // No token at all is the client's mistake: 400, no cookie either.
    for (const none of [42, null]) expect(await login(none)).toEqual({ status: 400, cookie: null });
    const { status, cookie } = await login(TOKEN);
    expect(status).toBe(200);
    expect(cookie).toMatch(/^anvil_session=[^;]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+$/);
    // The cookie holds a session of its own, never the token: each sign-in is a new one.
    expect(cookie).not.toContain(TOKEN);
    expect(cookie!.split(";")[0]).not.toBe(sessionCookie);
  });

  it("refuses a sign-in whose body is too large with a 413, and the server goes on", async () => {
    const response = await fetch(`${running!.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: "a".repeat(5_000) }),
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toContain("too large");
    expect((await login(TOKEN)).status).toBe(200);
  });

  it.each([
    ["a Bearer header", () => BEARER],
    ["the session cookie from POST /auth/login", () => ({ cookie: sessionCookie })],
  ])("serves every one of them with %s", async (_, headers) => {
    const answers = new Map<string, { status: number; type: string | null }>();
    for (const request of guarded()) {
      const { status, type, body } = await request.read(headers());
      expect(status, `${request.what}: ${body}`).toBe(request.authorized);
      answers.set(request.what, { status, type });
    }
    expect(answers.get("the jobs.events subscription over SSE")?.type).toMatch(/^text\/event-stream/);
    expect(answers.get("the finished job's image")?.type).toBe("image/png");
    expect(answers.get("GET /metrics")?.type).toMatch(/^text\/plain/);
    await waitFor(async () => (await running!.anvil.store.activeJobs()).length === 0, "the submitted job is done");
  });

  it("refuses a WebSocket upgrade without the token, and carries subscriptions over one that has it", async () => {
    const { url, anvil } = running!;
    const wsUrl = `${url.replace(/^http/, "ws")}/trpc`;
    for (const [, headers] of refusals) {
      expect(await upgrade(wsUrl, headers)).toEqual({ opened: false, status: 401 });
      // In the API's error shape, as the same call over HTTP: a client shows why.
      const refused = await upgradeRefusal(wsUrl, headers);
      expect(refused.message).toMatch(/token|sign in/i);
    }
    expect(await upgrade(wsUrl, BEARER)).toEqual({ opened: true, status: 101 });
    expect(await upgrade(wsUrl, { cookie: sessionCookie })).toEqual({ opened: true, status: 101 });

    const ws = authorizedWsClient(url, { cookie: sessionCookie });
    cleanups.push(() => ws.close());
    const received: Job[] = [];
    const subscription = ws.client.jobs.events.subscribe(
      {},
      { onData: ({ data }) => void ("kind" in data || received.push(data)) },
    );
    cleanups.push(() => subscription.unsubscribe());
    await waitFor(() => anvil.events.subscribers > 0, "the WebSocket subscription is attached");
    const job = await ws.client.jobs.submit.mutate({ prompt: uniquePrompt("over a WebSocket"), ...quick });
    await waitFor(() => received.some((j) => j.id === job.id && j.status === "complete"), "the job arrives complete");
  });

  it("keeps the web app and the login status open, so that the login form can load", async () => {
    const { url } = running!;
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const noProxy = { proxy: false, viaProxy: false };
    expect(await (await fetch(`${url}/auth/status`)).json()).toEqual({
      required: true,
      authorized: false,
      user: null,
      ...noProxy,
    });
    expect(await (await fetch(`${url}/auth/status`, { headers: BEARER })).json()).toEqual({
      required: true,
      authorized: true,
      user: { name: "admin", admin: true },
      ...noProxy,
    });
  });

  it("says in a 401 how to authenticate (WWW-Authenticate), as HTTP asks", async () => {
    const refused = await fetch(`${running!.url}/trpc/me`);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe('Bearer realm="anvil"');
  });

  it("answers /auth/ paths asked with another method 405, saying which to use", async () => {
    const { url } = running!;
    for (const [method, path, allow] of [
      ["PUT", "/auth/status", "GET, HEAD"],
      ["DELETE", "/auth/status", "GET, HEAD"],
      ["GET", "/auth/login", "POST"],
      ["GET", "/auth/logout", "POST"],
    ] as const) {
      const reply = await fetch(`${url}${path}`, { method });
      expect(reply.status, `${method} ${path}`).toBe(405);
      expect(reply.headers.get("allow")).toBe(allow);
      expect(await reply.json()).toEqual({
        error: `${method} is not a way to ask ${path}: use ${allow.split(",")[0]}`,
      });
    }
    expect((await fetch(`${url}/auth/status`, { method: "HEAD" })).status).toBe(200);
  });

  it("lets no differently written path reach the API, an image or the metrics without the token", async () => {
    const { url } = running!;
    for (const path of [
      "/trpc/health/",
      "//trpc/health",
      "/trpc//health",
      "/trpc/./health",
      "/x/../trpc/health",
      "/%74rpc/health",
      "/trpc%2fhealth",
      "/TRPC/health",
      `/images/../images/${finished.id}.png`,
      `/%69mages/${finished.id}.png`,
      "/metrics/",
      "/metrics?x=1",
      "/METRICS",
    ]) {
      const { status, body } = await rawGet(url, path);
      const text = body.toString("utf8");
      // Either refused, or something that is not the API, an image or the metrics (the web app, a 404).
      if (status !== 401) {
        expect(text, `${path} → ${status}`).not.toMatch(/"result"|"database"|anvil_|PNG/);
      }
    }
  });
});

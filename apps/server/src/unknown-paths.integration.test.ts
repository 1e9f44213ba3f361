import { describe, expect, it } from "vitest";
import { testDrivers } from "./testing/test-databases";
import { useTestServer } from "./testing/test-server";

type Refusal = { error: { message: string; data: { code: string; httpStatus: number } } };

describe("a path Anvil does not serve", () => {
  const server = useTestServer(testDrivers()[0]!);

  const get = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(`${server().url}${path}`, init);
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
  };

  it("is a 404 that says where to go for a program, not the web app with a 200", async () => {
    // A load balancer's guess: once the web app's page with a 200, whether or not the server could take requests.
    const health = await get("/health");
    expect(health.status).toBe(404);
    expect((JSON.parse(health.text) as Refusal).error).toMatchObject({
      message:
        "No such path /health: the readiness check is GET /healthz (and the API's health query GET /trpc/health)",
      data: { code: "NOT_FOUND", httpStatus: 404 },
    });
    const submit = await get("/jobs.submit", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt: "a fox" }),
    });
    expect(submit.status).toBe(404);
    expect((JSON.parse(submit.text) as Refusal).error.message).toBe(
      "No such path /jobs.submit: the API's procedures are under /trpc, e.g. POST /trpc/jobs.submit",
    );
    // Asked with the wrong method too, it names the one the procedure takes.
    const guessed = async (path: string, method: string) =>
      (JSON.parse((await get(path, { method })).text) as Refusal).error.message;
    expect(await guessed("/jobs.submit", "GET")).toBe(
      "No such path /jobs.submit: the API's procedures are under /trpc, e.g. POST /trpc/jobs.submit",
    );
    expect(await guessed("/jobs.get", "POST")).toBe(
      "No such path /jobs.get: the API's procedures are under /trpc, e.g. GET /trpc/jobs.get",
    );
    // The API's root, with or without its slash, asks for a procedure.
    for (const root of ["/trpc", "/trpc/"]) {
      expect((JSON.parse((await get(root)).text) as Refusal).error, root).toMatchObject({
        message: "Name a procedure: /trpc/<procedure>",
        data: { code: "NOT_FOUND", httpStatus: 404 },
      });
    }
    const other = await get("/api/jobs");
    expect(other.status).toBe(404);
    expect((JSON.parse(other.text) as Refusal).error.message).toContain("the API is under /trpc/<procedure>");
    // A client whose base URL has a path of its own: the procedure's name looks like a file's, but is none.
    const prefixed = await get("/anvil/trpc/queue.status");
    expect(prefixed.status).toBe(404);
    expect((JSON.parse(prefixed.text) as Refusal).error.message).toMatch(
      /^No such path \/anvil\/trpc\/queue\.status: the API is under \/trpc\/<procedure>/,
    );
  });

  it("still sends a browser the web app, whose own page says it is not found, and the app's pages to anyone", async () => {
    const page = await get("/no-such-page", { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } });
    expect(page.status).toBe(200);
    expect(page.type).toContain("text/html");
    for (const path of ["/", "/inspect"]) {
      const app = await get(path);
      expect(app.status, path).toBe(200);
      expect(app.type, path).toContain("text/html");
    }
    expect((await get("/healthz")).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startInProcess } from "./reliability/support/in-process";
import type { InProcessServer } from "./reliability/support/in-process";
import { authorizedHttpClient } from "./reliability/support/authorized-clients";
import { uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { waitFor, waitForStatus } from "./testing/wait";

const TOKEN = "the-admins-api-token";

describe.each(testDrivers())("/healthz on $kind", (driver) => {
  let database: TestDatabase;
  let server: InProcessServer;

  beforeAll(async () => {
    database = await driver.create();
    server = await startInProcess(database, { apiToken: TOKEN });
  });
  afterAll(async () => {
    await server?.anvil.close();
    await database?.dispose();
  });

  it("answers 200 without a sign-in while the server takes requests, and 503 once it is stopping", async () => {
    const ready = await fetch(`${server.url}/healthz`);
    expect(ready.status).toBe(200);
    expect(ready.headers.get("cache-control")).toBe("no-store");
    expect(await ready.json()).toEqual({
      ok: true,
      role: driver.kind === "postgres" ? "leader" : "single",
      database: "up",
      stopping: false,
    });
    expect((await fetch(`${server.url}/healthz`, { method: "HEAD" })).status).toBe(200);
    // The API itself still needs the sign-in.
    expect((await fetch(`${server.url}/trpc/health`)).status).toBe(401);

    // A SIGTERM's stop with a running generation: the server finishes it within the grace, answering meanwhile, and
    // a load balancer reading /healthz sends new work elsewhere.
    const admin = authorizedHttpClient(server.url, { authorization: `Bearer ${TOKEN}` });
    const running = await admin.jobs.submit.mutate({ prompt: uniquePrompt("runs through the stop sim:hang") });
    await waitForStatus(admin, running.id, "processing");
    const stopped = server.anvil.close({ graceMs: 2_000 });
    await waitFor(async () => (await fetch(`${server.url}/healthz`)).status === 503, "/healthz says it is stopping");
    const stopping = await fetch(`${server.url}/healthz`);
    expect(stopping.headers.get("retry-after")).toBe("1");
    expect(await stopping.json()).toMatchObject({ ok: false, database: "up", stopping: true });
    await stopped;
  });
});

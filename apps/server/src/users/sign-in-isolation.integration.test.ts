import { describe, expect, it } from "vitest";
import { signIn } from "../reliability/support/authorized-clients";
import { useFreshServer, useInProcessCluster } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const meStatus = async (url: string, headers: Record<string, string>) =>
  (await fetch(`${url}/trpc/me`, { headers })).status;

describe.each(testDrivers())("sign-in on $kind", (driver) => {
  const { start, again } = useFreshServer(driver);
  let running: InProcessServer | undefined;

  it("counts a wrong token at /auth/status as a failed sign-in, and answers 429 past the limit", async () => {
    running = await start({ apiToken: "the-right-api-token", failedLoginLimit: 3 });
    const status = (token: string) => fetch(`${running!.url}/auth/status`, { headers: bearer(token) });
    for (let i = 0; i < 3; i++) {
      const answer = await status(`guess-${i}`);
      expect(answer.status).toBe(200);
      expect(await answer.json()).toMatchObject({ authorized: false, user: null });
    }
    // Past the limit, /auth/status is no oracle for guessing: the right token too is refused, as everywhere else.
    const blocked = await status("the-right-api-token");
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(JSON.stringify(await blocked.json())).not.toContain("admin");
    expect(running.logs.filter((line) => line.msg === "failed sign-in" && line.path === "/auth/status")).toHaveLength(
      3,
    );
    // The web app's own question, with no token, is still answered.
    expect((await fetch(`${running.url}/auth/status`)).status).toBe(200);
  });

  it("answers a sign-in body that is not { token } with 400 saying what to send, and counts no failure", async () => {
    running = await start({ apiToken: "the-right-api-token", failedLoginLimit: 3 });
    const login = (body: string) =>
      fetch(`${running!.url}/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body });
    for (const body of ["not json", "{}", '{"token":123}', "null", '["the-right-api-token"]', ""]) {
      const answer = await login(body);
      expect(answer.status, body).toBe(400);
      expect(await answer.json()).toEqual({
        ok: false,
        error: 'The sign-in body must be JSON: { "token": "<your token>" }',
      });
    }
    expect(running.logs.filter((line) => line.msg === "failed sign-in")).toHaveLength(0);
    expect((await login(JSON.stringify({ token: "the-right-api-token" }))).status).toBe(200);
    expect((await login(JSON.stringify({ token: "a wrong one" }))).status).toBe(401);
  });

  it("ends the web sessions made with an API_TOKEN once the server starts with another one, or with none", async () => {
    running = await start({ apiToken: "the-old-api-token" });
    const cookie = { cookie: await signIn(running.url, "the-old-api-token") };
    expect(await meStatus(running.url, cookie)).toBe(200);
    await running.anvil.close();

    // The token leaked and was replaced: a session signed in with the old one is the old token's, and ends with it.
    running = await again({ apiToken: "the-new-api-token" });
    expect(await meStatus(running.url, cookie)).toBe(401);
    expect(await meStatus(running.url, bearer("the-old-api-token"))).toBe(401);
    const fresh = { cookie: await signIn(running.url, "the-new-api-token") };
    expect(await meStatus(running.url, fresh)).toBe(200);
    await running.anvil.close();

    // API_TOKEN unset, a sign-in proxy in its place: no session of API_TOKEN's admin is an admin any more.
    running = await again({ authProxyHeader: "X-Forwarded-User" });
    expect(await meStatus(running.url, fresh)).toBe(401);
    const asCarol = await fetch(`${running.url}/trpc/me`, { headers: { ...fresh, "x-forwarded-user": "carol" } });
    expect(await asCarol.json()).toMatchObject({ result: { data: { name: "carol", admin: false } } });
  });

  it("keeps every session of API_TOKEN sign-ins made at once", async () => {
    running = await start({ apiToken: "the-api-token" });
    const cookies = await Promise.all(Array.from({ length: 6 }, () => signIn(running!.url, "the-api-token")));
    for (const cookie of cookies) expect(await meStatus(running.url, { cookie })).toBe(200);
  });
});

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("API_TOKEN sign-ins on both servers of a cluster at once", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!, { apiToken: "the-clusters-api-token" });

  it("all succeed, and every session they made stays signed in on either server", async () => {
    // Each server binds the admin's row as its first sign-in comes: the binding, not the row, is what they race for.
    const urls = cluster.servers.map((server) => server.url);
    const cookies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => signIn(urls[i % urls.length]!, "the-clusters-api-token")),
    );
    for (const cookie of cookies) {
      for (const url of urls) expect(await meStatus(url, { cookie })).toBe(200);
    }
  });
});

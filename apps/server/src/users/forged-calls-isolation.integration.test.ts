import { describe, expect, it } from "vitest";
import { authorizedHttpClient, signIn, upgrade, upgradeRefusal } from "../reliability/support/authorized-clients";
import { useFreshServer } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import { quick, uniquePrompt } from "../testing/fixtures";
import { waitForStatus } from "../testing/wait";
import { testDrivers } from "../testing/test-databases";

const EVIL = "https://evil.example";

describe.each(testDrivers())("calls a web page of another origin makes a browser send, on $kind", (driver) => {
  const { start } = useFreshServer(driver);
  let running: InProcessServer | undefined;

  /** A POST with no body and no content-type: what any page may make a browser send without asking first. */
  const bodiless = (path: string, headers: Record<string, string>) =>
    fetch(`${running!.url}/trpc/${path}`, { method: "POST", headers });

  it("refuses a bodiless POST from a foreign page where nobody signs in, and takes it from curl and Anvil's own page", async () => {
    running = await start({});
    const blocker = await running.trpc.jobs.submit.mutate({ prompt: uniquePrompt("blocker sim:hang") });
    await waitForStatus(running.trpc, blocker.id, "processing");
    const waiting = await running.trpc.jobs.submit.mutate({ prompt: uniquePrompt("waiting"), ...quick });

    const forged = await bodiless("jobs.cancelWaiting", { origin: EVIL });
    expect(forged.status).toBe(403);
    expect(await forged.json()).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
    expect((await bodiless("queue.pause", { origin: EVIL })).status).toBe(403);
    expect(await running.trpc.jobs.get.query({ jobId: waiting.id })).toMatchObject({ status: "queued" });
    expect((await running.trpc.queue.status.query()).paused).toBe(false);

    // `curl -X POST /trpc/queue.pause` sends no Origin; a page of Anvil's own origin is Anvil's.
    expect((await bodiless("queue.pause", {})).status).toBe(200);
    expect((await bodiless("queue.resume", { origin: new URL(running.url).origin })).status).toBe(200);
    expect((await bodiless("jobs.cancelWaiting", {})).status).toBe(200);
    expect(await running.trpc.jobs.get.query({ jobId: waiting.id })).toMatchObject({ status: "cancelled" });
  });

  it("refuses it with the session cookie, and lets a Bearer token or ALLOWED_ORIGINS through", async () => {
    const token = "the-admins-api-token";
    running = await start({ apiToken: token, allowedOrigins: ["https://app.example"] });
    const cookie = await signIn(running.url, token);
    expect((await bodiless("queue.pause", { origin: EVIL, cookie })).status).toBe(403);
    expect((await bodiless("queue.pause", { origin: "https://app.example", cookie })).status).toBe(200);
    expect((await bodiless("queue.resume", { origin: EVIL, authorization: `Bearer ${token}` })).status).toBe(200);
  });

  it("lets a page of ALLOWED_ORIGINS read the API's answers (CORS), and gives a foreign page no such headers", async () => {
    const token = "the-admins-api-token";
    const app = "https://app.example";
    running = await start({ apiToken: token, allowedOrigins: [app] });
    // The browser's preflight for a JSON POST with a Bearer token: answered before any sign-in, which it never carries.
    const preflight = (origin: string) =>
      fetch(`${running!.url}/trpc/jobs.submit`, {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
    const allowed = await preflight(app);
    expect(allowed.status).toBe(204);
    expect(Object.fromEntries(allowed.headers)).toMatchObject({
      "access-control-allow-origin": app,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, HEAD, POST",
      "access-control-allow-headers": expect.stringMatching(/authorization, content-type/),
    });
    const foreign = await preflight(EVIL);
    expect(foreign.status).toBeGreaterThanOrEqual(400);
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();

    // The call itself: its answer names the page's origin (never *: it may carry the session cookie).
    const cookie = await signIn(running.url, token);
    const read = await fetch(`${running.url}/trpc/queue.status`, { headers: { origin: app, cookie } });
    expect(read.status).toBe(200);
    expect(read.headers.get("access-control-allow-origin")).toBe(app);
    expect(read.headers.get("access-control-allow-credentials")).toBe("true");
    expect(read.headers.get("vary")).toMatch(/origin/i);
    const other = await fetch(`${running.url}/trpc/queue.status`, { headers: { origin: EVIL, cookie } });
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    // An image too, and with Vary: Origin also when asked without one (as an <img> does), so that no cache gives
    // that answer, without these headers, to the page's own call.
    const admin = authorizedHttpClient(running.url, { authorization: `Bearer ${token}` });
    const job = await admin.jobs.submit.mutate({ prompt: uniquePrompt("cors image"), ...quick });
    const image = `${running.url}${(await waitForStatus(admin, job.id, "complete")).imageUrl}`;
    const asImg = await fetch(image, { headers: { cookie } });
    expect([asImg.status, asImg.headers.get("access-control-allow-origin")]).toEqual([200, null]);
    expect(asImg.headers.get("vary")).toMatch(/origin/i);
    const asPage = await fetch(image, { headers: { origin: app, cookie } });
    expect([asPage.status, asPage.headers.get("access-control-allow-origin")]).toEqual([200, app]);
    // A page may resume an image (Range, If-Range) and read where the part lies and what it is part of.
    const rangePreflight = await fetch(image, {
      method: "OPTIONS",
      headers: { origin: app, "access-control-request-method": "GET", "access-control-request-headers": "if-range" },
    });
    expect(rangePreflight.headers.get("access-control-allow-headers")).toMatch(/\brange, if-range, if-none-match\b/);
    const part = await fetch(image, { headers: { origin: app, cookie, range: "bytes=0-7" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("access-control-expose-headers")).toBe("retry-after, accept-ranges, content-range, etag");
    // And a sign-in.
    const login = await fetch(`${running.url}/auth/login`, {
      method: "POST",
      headers: { origin: app, "content-type": "application/json" },
      body: JSON.stringify({ token }),
    });
    expect([login.status, login.headers.get("access-control-allow-origin")]).toEqual([200, app]);
  });

  it("opens no WebSocket for a foreign page where nobody signs in, and one for scripts and Anvil's own page", async () => {
    running = await start({});
    const wsUrl = `${running.url.replace(/^http/, "ws")}/trpc`;
    // Without sign-in every caller is the admin `local`: a page of any web site would read and do everything.
    expect(await upgrade(wsUrl, { origin: EVIL })).toEqual({ opened: false, status: 403 });
    expect((await upgradeRefusal(wsUrl, { origin: EVIL })).message).toContain(`a page of another origin (${EVIL})`);
    expect(await upgrade(wsUrl, { origin: new URL(running.url).origin })).toEqual({ opened: true, status: 101 });
    expect(await upgrade(wsUrl, {})).toEqual({ opened: true, status: 101 });
  });

  it("refuses a sign-in that a page of another site posts as a form, and takes Anvil's own and curl's", async () => {
    running = await start({ apiToken: "the-admins-api-token" });
    const admin = authorizedHttpClient(running.url, { authorization: "Bearer the-admins-api-token" });
    const { token } = await admin.users.create.mutate({ name: "mallory" });
    // A form (text/plain) whose body reads as JSON: it would sign the visitor in as mallory, who then reads their prompts.
    const signIn = (headers: Record<string, string>) =>
      fetch(`${running!.url}/auth/login`, { method: "POST", headers, body: JSON.stringify({ token }) });
    const forged = await signIn({ "content-type": "text/plain", origin: EVIL });
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
    expect((await signIn({ "content-type": "application/x-www-form-urlencoded", origin: EVIL })).status).toBe(403);
    expect((await signIn({ "content-type": "application/json", origin: new URL(running.url).origin })).status).toBe(
      200,
    );
    expect((await signIn({ "content-type": "text/plain" })).status).toBe(200);
  });

  it("refuses a sign-out that a page of another site posts as a form: the session goes on", async () => {
    running = await start({ apiToken: "the-admins-api-token" });
    const cookie = await signIn(running.url, "the-admins-api-token");
    const me = () => fetch(`${running!.url}/trpc/me`, { headers: { cookie } });
    const signOut = (headers: Record<string, string>) =>
      fetch(`${running!.url}/auth/logout`, { method: "POST", headers: { cookie, ...headers } });
    // Another port or subdomain of the same site is sent the SameSite=Strict cookie: its form would end the session.
    const forged = await signOut({ "content-type": "application/x-www-form-urlencoded", origin: EVIL });
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBeNull();
    expect((await signOut({ "content-type": "text/plain", origin: EVIL })).status).toBe(403);
    expect((await me()).status).toBe(200);
    // Anvil's own page signs out.
    expect((await signOut({ "content-type": "application/json", origin: new URL(running.url).origin })).status).toBe(
      200,
    );
    expect((await me()).status).toBe(401);
  });
});

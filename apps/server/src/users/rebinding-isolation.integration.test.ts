import { request } from "node:http";
import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { upgrade, upgradeRefusal } from "../reliability/support/authorized-clients";
import { useFreshServer } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";

/** A GET of `path` sent to the server with the `Host` header a browser would send for `host`. */
const getAs = (server: InProcessServer, host: string, path: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const { port } = new URL(server.url);
    const req = request({ host: "127.0.0.1", port, path, headers: { ...headers, host } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject).end();
  });

describe.each(testDrivers())("a name pointed at this machine by another site (DNS rebinding), on $kind", (driver) => {
  const { start } = useFreshServer(driver);
  let running: InProcessServer | undefined;

  it("gets no answer from the API, images or a WebSocket where nobody signs in, and names, IPs and ALLOWED_ORIGINS do", async () => {
    running = await start({ allowedOrigins: ["http://anvil.example.org:8080"] });
    const port = new URL(running.url).port;
    // A page of evil.example whose name now resolves to 127.0.0.1 calls Anvil as its own origin: Anvil's admin `local`.
    const rebound = await getAs(running, `evil.example:${port}`, "/trpc/jobs.list");
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
    expect(rebound.body).toContain('not \\"evil.example\\"');
    expect(rebound.body).toContain("ALLOWED_ORIGINS");
    expect(
      (await getAs(running, `evil.example:${port}`, "/images/00000000-0000-4000-8000-000000000000.png")).status,
    ).toBe(403);
    const socket = await upgrade(`ws://127.0.0.1:${port}/trpc`, { host: `evil.example:${port}` });
    expect(socket).toEqual({ opened: false, status: 403 });
    expect((await upgradeRefusal(`ws://127.0.0.1:${port}/trpc`, { host: `evil.example:${port}` })).message).toMatch(
      /only by an IP address or a name of this machine, not "evil\.example"/,
    );
    // A name that starts like a loopback address is still anyone's name.
    for (const name of ["127.0.0.1.evil.example", "127.attacker.example"]) {
      expect((await getAs(running, `${name}:${port}`, "/trpc/me")).status, name).toBe(403);
      expect(await upgrade(`ws://127.0.0.1:${port}/trpc`, { host: `${name}:${port}` })).toEqual({
        opened: false,
        status: 403,
      });
    }

    // The names no other site can own: an IP address, localhost, this machine's name; and an origin the operator listed.
    for (const host of [
      `127.0.0.1:${port}`,
      `127.0.0.2:${port}`,
      `[::1]:${port}`,
      `localhost:${port}`,
      `anvil.localhost:${port}`,
      `${hostname()}:${port}`,
      "anvil.example.org:8080",
    ]) {
      expect((await getAs(running, host, "/trpc/health")).status, host).toBe(200);
    }
    expect((await upgrade(`ws://127.0.0.1:${port}/trpc`, { host: `localhost:${port}` })).opened).toBe(true);
    // /healthz carries no one's data and stays open by any name (a load balancer asks it by its own).
    expect((await getAs(running, `evil.example:${port}`, "/healthz")).status).toBe(200);
  });

  it("takes no sign-in proxy's header sent to a name another site may own, which a page can send itself", async () => {
    running = await start({
      authProxyHeader: "X-Forwarded-User",
      apiToken: "a token of at least eight",
      allowedOrigins: ["https://anvil.example.org"],
    });
    const port = new URL(running.url).port;
    const asBoss = { "x-forwarded-user": "boss" };
    // The rebound page's own fetch: to the browser it is the page's origin, so the header needs no preflight.
    const rebound = await getAs(running, `evil.example:${port}`, "/trpc/me", asBoss);
    expect(rebound.status).toBe(401);
    expect(rebound.body).toContain('not \\"evil.example\\"');
    expect(rebound.body).toContain("ALLOWED_ORIGINS");
    expect((await getAs(running, `evil.example:${port}`, "/auth/status", asBoss)).body).toContain('"authorized":false');
    const socket = await upgrade(`ws://127.0.0.1:${port}/trpc`, { host: `evil.example:${port}`, ...asBoss });
    expect(socket).toEqual({ opened: false, status: 401 });
    // Nobody was made by the page's header.
    const users = await getAs(running, `127.0.0.1:${port}`, "/trpc/users.list", {
      authorization: "Bearer a token of at least eight",
    });
    expect(users.status).toBe(200);
    expect(users.body).not.toContain('"boss"');
    // The proxy's own names: this machine's, and the origin the operator listed.
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "anvil.example.org"]) {
      const me = await getAs(running, host, "/trpc/me", asBoss);
      expect(me.status, host).toBe(200);
      expect(me.body, host).toContain('"name":"boss"');
    }
  });

  it("is not asked where callers sign in: the page has no credentials for its own name", async () => {
    running = await start({ apiToken: "a token of at least eight" });
    const port = new URL(running.url).port;
    const signedIn = await getAs(running, `anvil.internal:${port}`, "/trpc/health", {
      authorization: "Bearer a token of at least eight",
    });
    expect(signedIn.status).toBe(200);
    expect((await getAs(running, `anvil.internal:${port}`, "/trpc/health")).status).toBe(401);
  });
});

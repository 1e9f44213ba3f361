import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { authorizedHttpClient, upgrade } from "../reliability/support/authorized-clients";
import { useFreshServer } from "../reliability/support/in-process";
import { testDrivers } from "../testing/test-databases";

const ADMIN = { authorization: "Bearer the-admins-api-token" };

/** An open WebSocket to `url`'s /trpc with `headers`; resolves once it is open. */
const openSocket = (url: string, headers: Record<string, string>) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/trpc`, { headers });
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_, response) => reject(new Error(`refused: ${response.statusCode}`)));
  });

/**
 * A Server-Sent Events stream of `jobs.events` opened with `headers` (and `Accept: text/event-stream` unless
 * `asked` is false: tRPC streams a subscription's GET either way): its status, and what ends it.
 */
const openEvents = async (url: string, headers: Record<string, string>, asked = true) => {
  const stop = new AbortController();
  const reply = await fetch(`${url}/trpc/jobs.events?input=${encodeURIComponent("{}")}`, {
    headers: asked ? { ...headers, accept: "text/event-stream" } : headers,
    signal: stop.signal,
  });
  return {
    status: reply.status,
    body: reply.status === 200 ? "" : await reply.text(),
    close: () => stop.abort(),
  };
};

describe.each(testDrivers())("streams one user may hold open, on $kind", (driver) => {
  const { start } = useFreshServer(driver);

  it("refuses a user's WebSocket or event stream past the bound with 429, until one closes; admins are not bound", async () => {
    const running = await start({ apiToken: "the-admins-api-token", maxStreamsPerUser: 2 });
    const { token } = await authorizedHttpClient(running.url, ADMIN).users.create.mutate({ name: "bob" });
    const bob = { authorization: `Bearer ${token}` };
    const wsUrl = `${running.url.replace(/^http/, "ws")}/trpc`;

    const first = await openSocket(running.url, bob);
    const events = await openEvents(running.url, bob);
    expect(events.status).toBe(200);
    // Two held: a third of either kind is refused, saying why.
    expect(await upgrade(wsUrl, bob)).toEqual({ opened: false, status: 429 });
    const refused = await openEvents(running.url, bob);
    expect(refused.status).toBe(429);
    expect(refused.body).toContain("bob already holds 2 streams open");
    const unasked = await openEvents(running.url, bob, false);
    expect(unasked.status).toBe(429);
    // Other users, and admins, are not held back by bob's.
    expect((await upgrade(wsUrl, ADMIN)).opened).toBe(true);
    const admins = await Promise.all([openSocket(running.url, ADMIN), openSocket(running.url, ADMIN)]);
    expect((await upgrade(wsUrl, ADMIN)).opened).toBe(true);

    // One closes: bob may open another.
    first.close();
    await expect.poll(async () => (await upgrade(wsUrl, bob)).opened, { timeout: 10_000 }).toBe(true);
    events.close();
    await expect
      .poll(
        async () => {
          const again = await openEvents(running.url, bob);
          again.close();
          return again.status;
        },
        { timeout: 10_000 },
      )
      .toBe(200);
    for (const socket of admins) socket.close();
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { startInProcess } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { openApiSocket } from "../testing/api-socket";
import { codeOf, trpcError } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const refusal = async (call: Promise<unknown>) => {
  const error = await trpcError(call);
  return { code: codeOf(error).code, message: error.message };
};

/** A WebSocket opened on `server` with `token`, and when it closes. */
const openSocket = (server: InProcessServer, token: string) => openApiSocket(server.url, token);

describe.each(testDrivers())("users.update on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;
  let admin: AnvilClient;
  let annToken: string;
  const ann = () => authorizedHttpClient(running.url, bearer(annToken));

  beforeAll(async () => {
    database = await driver.create();
    // No sweep of open credentials within a test's time: what ends at a users.update is the update's own doing.
    running = await startInProcess(database, {
      apiToken: TOKEN,
      failedLoginLimit: 1_000,
      credentialSweepMs: 600_000,
    });
    admin = authorizedHttpClient(running.url, bearer(TOKEN));
    annToken = (await admin.users.create.mutate({ name: "ann" })).token;
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  const annSocket = () => openSocket(running, annToken);

  it("makes a user an admin and no longer one, answering as users.list does, with the rights at once", async () => {
    const created = (await admin.users.list.query()).find((user) => user.name === "ann")!.createdAt;
    expect(await admin.users.update.mutate({ name: "ann", admin: true })).toEqual({
      name: "ann",
      admin: true,
      createdAt: created,
    });
    expect(await ann().me.query()).toEqual({ name: "ann", admin: true });
    expect((await ann().users.list.query()).find((user) => user.name === "ann")).toMatchObject({ admin: true });
    // Said again, it is what it was: no error.
    expect(await admin.users.update.mutate({ name: "ann", admin: true })).toMatchObject({ admin: true });

    expect(await admin.users.update.mutate({ name: "ann", admin: false })).toEqual({
      name: "ann",
      admin: false,
      createdAt: created,
    });
    expect(await ann().me.query()).toEqual({ name: "ann", admin: false });
    expect(await refusal(ann().users.list.query())).toEqual({
      code: "FORBIDDEN",
      message: "Only an admin may call users.list; ann is not one",
    });
  });

  it("ends what a demoted admin had open: a WebSocket's calls were admitted with the rights of its start", async () => {
    await admin.users.update.mutate({ name: "ann", admin: true });
    const { socket, closed } = await annSocket();
    try {
      await admin.users.update.mutate({ name: "ann", admin: false });
      expect(await closed).toEqual({ code: 1008, reason: "the user's rights changed" });
    } finally {
      socket.terminate();
    }
    // Opened again, it is ann's without the rights.
    const again = await annSocket();
    again.socket.terminate();
    await again.closed;
  });

  it("keeps a web session signed in, reading the new rights at its next call", async () => {
    await admin.users.update.mutate({ name: "ann", admin: true });
    const login = await fetch(`${running.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: annToken }),
    });
    const cookie = { cookie: (login.headers.get("set-cookie") ?? "").split(";")[0]! };
    const browser = authorizedHttpClient(running.url, cookie);
    expect(await browser.me.query()).toEqual({ name: "ann", admin: true });
    await admin.users.update.mutate({ name: "ann", admin: false });
    // Still signed in, as ann without the rights.
    expect(await browser.me.query()).toEqual({ name: "ann", admin: false });
    expect(await refusal(browser.users.create.mutate({ name: "eve" }))).toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses an unknown user, the built-in users, an admin's own rights, and a caller who is no admin", async () => {
    expect(await refusal(admin.users.update.mutate({ name: "nobody", admin: true }))).toEqual({
      code: "NOT_FOUND",
      message: "No user named nobody",
    });
    expect(await refusal(admin.users.update.mutate({ name: "admin", admin: false }))).toEqual({
      code: "CONFLICT",
      message:
        "admin is built in (API_TOKEN's admin: it goes when API_TOKEN is unset) and always an admin: it cannot be changed",
    });
    expect(await refusal(admin.users.update.mutate({ name: "local", admin: false }))).toEqual({
      code: "CONFLICT",
      message: "local is built in (the user when nobody signs in) and always an admin: it cannot be changed",
    });
    const { token } = await admin.users.create.mutate({ name: "boss", admin: true });
    const boss = authorizedHttpClient(running.url, bearer(token));
    expect(await refusal(boss.users.update.mutate({ name: "boss", admin: false }))).toEqual({
      code: "CONFLICT",
      message: "You cannot take away your own admin rights; another admin can",
    });
    expect(await boss.me.query()).toEqual({ name: "boss", admin: true });
    // Saying that one is what one is changes nothing, and is no refusal.
    expect(await boss.users.update.mutate({ name: "boss", admin: true })).toMatchObject({ admin: true });

    await admin.users.update.mutate({ name: "ann", admin: false });
    expect(await refusal(ann().users.update.mutate({ name: "ann", admin: true }))).toEqual({
      code: "FORBIDDEN",
      message: "Only an admin may call users.update; ann is not one",
    });
    const missing = await refusal(admin.users.update.mutate({ name: "ann" } as { name: string; admin: boolean }));
    expect(missing).toEqual({ code: "BAD_REQUEST", message: expect.stringContaining("admin must be true or false") });
  });
});

describe.each(testDrivers())("the sweep of open credentials on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;

  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database, { apiToken: TOKEN, failedLoginLimit: 1_000, credentialSweepMs: 100 });
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("ends, within a sweep, a WebSocket opened as an admin's whose user is no admin without the update's word", async () => {
    const admin = authorizedHttpClient(running.url, bearer(TOKEN));
    const { token } = await admin.users.create.mutate({ name: "ann", admin: true });
    const { socket, closed } = await openSocket(running, token);
    try {
      // As for a socket still starting when users.update ended the others: the demotion reaches it only through
      // the database.
      expect(await running.anvil.users.setAdmin("ann", false)).toMatchObject({ changed: true });
      await closed;
    } finally {
      socket.terminate();
    }
  });
});

import type { Job } from "@anvil/job-machine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient, upgrade } from "../reliability/support/authorized-clients";
import { startInProcess, useFreshServer } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { openApiSocket } from "../testing/api-socket";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitFor, waitForStatus } from "../testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOfCall = async (call: Promise<unknown>) => codeOf(await trpcError(call)).code;

describe.each(testDrivers())("users and privacy on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;
  let admin: AnvilClient;
  const tokens = new Map<string, string>();
  const as = (name: string) => authorizedHttpClient(running.url, bearer(tokens.get(name)!));

  beforeAll(async () => {
    database = await driver.create();
    // No sweep of the open credentials (default every 5 s): what ends "at once" here must end by the call's own word.
    running = await startInProcess(database, {
      apiToken: TOKEN,
      maxQueuedPerUser: 3,
      failedLoginLimit: 1_000,
      credentialSweepMs: 600_000,
    });
    admin = authorizedHttpClient(running.url, bearer(TOKEN));
    for (const name of ["ann", "bob"]) tokens.set(name, (await admin.users.create.mutate({ name })).token);
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("makes users whose token is shown once, names them, and lets only admins manage them", async () => {
    expect(await as("ann").me.query()).toEqual({ name: "ann", admin: false });
    expect(await admin.me.query()).toEqual({ name: "admin", admin: true });
    const listed = await admin.users.list.query();
    // API_TOKEN's admin too, which has not signed in on the web (`anvil users list` left it out until then).
    expect(listed.map((user) => user.name)).toEqual(["admin", "ann", "bob"]);
    expect(listed[0]).toMatchObject({ name: "admin", admin: true });
    expect(JSON.stringify(listed)).not.toContain(tokens.get("ann"));
    // Only the hash is stored.
    expect(JSON.stringify(await running.anvil.users.list())).not.toContain(tokens.get("ann"));
    expect(await codeOfCall(admin.users.create.mutate({ name: "ann" }))).toBe("CONFLICT");
    expect(await codeOfCall(admin.users.create.mutate({ name: "local" }))).toBe("CONFLICT");
    expect(await codeOfCall(admin.users.create.mutate({ name: "Not Valid" }))).toBe("BAD_REQUEST");
    expect(await codeOfCall(as("ann").users.create.mutate({ name: "eve" }))).toBe("FORBIDDEN");
    expect(await codeOfCall(as("ann").users.list.query())).toBe("FORBIDDEN");
    expect(await codeOfCall(as("ann").cluster.servers.query())).toBe("FORBIDDEN");
    // Says which call, and as whom it was made.
    expect((await trpcError(as("ann").users.list.query())).message).toBe(
      "Only an admin may call users.list; ann is not one",
    );
    expect(await codeOfCall(as("bob").jobs.submit.mutate({ prompt: "me first", priority: 1 }))).toBe("FORBIDDEN");
    const made = await admin.users.create.mutate({ name: "ops", admin: true });
    expect(made).toMatchObject({ name: "ops", admin: true });
    expect(await authorizedHttpClient(running.url, bearer(made.token)).users.list.query()).not.toHaveLength(0);
  });

  it(
    "shows a user only their own jobs, conversations, messages, events and images; another's are NOT_FOUND",
    { timeout: 60_000 },
    async () => {
      const ann = as("ann");
      const bob = as("bob");
      const seen: Job[] = [];
      const subscription = bob.jobs.events.subscribe(
        {},
        // Line events (the one line is global) name no job; the snapshots are what bob may see.
        { onData: ({ data }) => void ("kind" in data || seen.push(data)) },
      );
      const before = running.anvil.events.subscribers;
      await waitFor(() => running.anvil.events.subscribers >= before, "bob's subscription is attached");
      try {
        const annJob = await ann.jobs.submit.mutate({ prompt: uniquePrompt("ann's secret"), ...quick });
        const bobJob = await bob.jobs.submit.mutate({ prompt: uniquePrompt("bob's own"), ...quick });
        expect([annJob.owner, bobJob.owner]).toEqual(["ann", "bob"]);
        await waitForStatus(admin, annJob.id, "complete");
        await waitFor(() => seen.some((job) => job.id === bobJob.id && job.status === "complete"), "bob's job ends");
        expect(seen.filter((job) => job.owner !== "bob")).toEqual([]);

        const { id, conversationId } = annJob;
        expect(await codeOfCall(bob.jobs.get.query({ jobId: id }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.jobs.cancel.mutate({ jobId: id }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.messages.list.query({ conversationId }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.jobs.list.query({ conversationId, limit: 500 }))).toBe("NOT_FOUND");
        expect((await ann.jobs.list.query({ conversationId, limit: 500 })).items.map((job) => job.id)).toEqual([id]);
        expect(await codeOfCall(bob.jobs.submit.mutate({ prompt: "into ann's", conversationId }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.conversations.delete.mutate({ conversationId }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.conversations.get.query({ conversationId }))).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.conversations.rename.mutate({ conversationId, title: "bob's now" }))).toBe(
          "NOT_FOUND",
        );
        // Asking for ann's is refused (it would answer with bob's own), his own name is his own list.
        expect(await codeOfCall(bob.jobs.list.query({ owner: "ann", limit: 500 }))).toBe("FORBIDDEN");
        const bobsJobs = await bob.jobs.list.query({ owner: "bob", limit: 500 });
        expect(bobsJobs.items.map((job) => job.owner)).toEqual(["bob"]);
        expect((await bob.conversations.list.query()).map((c) => c.id)).toEqual([bobJob.conversationId]);
        // Ann's conversation names no place in bob's list: paging after it shows bob nothing of ann's.
        expect(await bob.conversations.list.query({ limit: 10, before: conversationId })).toEqual([]);
        const subscribed = await new Promise<string>((resolve) => {
          const s = bob.jobs.events.subscribe(
            { jobId: id },
            {
              onError: (error) => resolve(String((error.data as { code?: string } | undefined)?.code)),
              onData: () => resolve("data"),
            },
          );
          setTimeout(() => s.unsubscribe(), 10_000);
        });
        expect(subscribed).toBe("NOT_FOUND");
        expect(await codeOfCall(bob.debug.scheduler.query({}))).toBe("FORBIDDEN");

        const image = (headers: Record<string, string>) => fetch(`${running.url}/images/${id}.png`, { headers });
        expect((await image(bearer(tokens.get("bob")!))).status).toBe(404);
        // A range or a validator tells nothing of another user's image either: no 206, 304 or 416.
        const asks: Record<string, string>[] = [
          { range: "bytes=0-3" },
          { range: "bytes=999999999-" },
          { "if-none-match": `"${id}"` },
        ];
        for (const asked of asks) {
          const guessed = await image({ ...bearer(tokens.get("bob")!), ...asked });
          expect([guessed.status, guessed.headers.get("content-range"), guessed.headers.get("etag")]).toEqual([
            404,
            null,
            null,
          ]);
        }
        const own = await image(bearer(tokens.get("ann")!));
        expect(own.status).toBe(200);
        expect(own.headers.get("cache-control")).toMatch(/^private/);

        // The admin sees everyone's, and one user's with `owner`.
        expect(await admin.jobs.get.query({ jobId: id })).toMatchObject({ owner: "ann" });
        const annsOnly = await admin.jobs.list.query({ owner: "ann", limit: 500 });
        expect(annsOnly.items.map((job) => job.id)).toContain(id);
        expect(annsOnly.items.every((job) => job.owner === "ann")).toBe(true);
        expect(await admin.messages.list.query({ conversationId })).toHaveLength(2);
        // Ann's conversation outlived bob's attempt; she may delete it (as may an admin).
        expect(await ann.conversations.delete.mutate({ conversationId })).toEqual({ id: conversationId });
        expect(await codeOfCall(admin.jobs.get.query({ jobId: id }))).toBe("NOT_FOUND");

        const metrics = await (await fetch(`${running.url}/metrics`, { headers: bearer(TOKEN) })).text();
        // Whole words: "cannot" in a help text is not ann.
        expect(metrics).not.toMatch(/\b(ann|bob)\b|secret/);
      } finally {
        subscription.unsubscribe();
      }
    },
  );

  it("refuses one queued job past MAX_QUEUED_PER_USER with TOO_MANY_REQUESTS, and only for that user", async () => {
    const blocker = await admin.jobs.submit.mutate({ prompt: uniquePrompt("blocker sim:hang") });
    try {
      await waitForStatus(admin, blocker.id, "processing");
      const bob = as("bob");
      const queued = [];
      for (let i = 0; i < 3; i++) queued.push(await bob.jobs.submit.mutate({ prompt: `waiting ${i}`, ...quick }));
      const refused = await trpcError(bob.jobs.submit.mutate({ prompt: "one too many", ...quick }));
      expect(codeOf(refused)).toEqual({ code: "TOO_MANY_REQUESTS", httpStatus: 429 });
      const status = await bob.queue.status.query();
      expect(status.backends[0]?.jobId).toBeNull();
      expect((await admin.queue.status.query()).backends[0]?.jobId).toBe(blocker.id);
      const ann = await as("ann").jobs.submit.mutate({ prompt: "ann is not bob", ...quick });
      for (const job of [...queued, ann]) await admin.jobs.cancel.mutate({ jobId: job.id });
    } finally {
      await admin.jobs.cancel.mutate({ jobId: blocker.id });
    }
  });

  /** Runs `work` while an admin's job that never ends holds the one GPU, then cancels every job bob has waiting. */
  const whileGpuBusy = async (work: () => Promise<void>) => {
    const blocker = await admin.jobs.submit.mutate({ prompt: uniquePrompt("blocker sim:hang") });
    try {
      await waitForStatus(admin, blocker.id, "processing");
      await work();
    } finally {
      const waiting = await admin.jobs.list.query({ owner: "bob", status: ["queued"], limit: 500 });
      for (const job of waiting.items) await admin.jobs.cancel.mutate({ jobId: job.id });
      await admin.jobs.cancel.mutate({ jobId: blocker.id });
    }
  };
  const tooMany = { code: "TOO_MANY_REQUESTS", httpStatus: 429 };

  it("returns the job an idempotencyKey made to a user at MAX_QUEUED_PER_USER, and counts only new jobs", async () => {
    await whileGpuBusy(async () => {
      const bob = as("bob");
      const keyed = (label: string) => ({ prompt: uniquePrompt(label), ...quick, idempotencyKey: uniquePrompt(label) });
      const [first, second] = [keyed("first"), keyed("second")];
      const made = [await bob.jobs.submit.mutate(first), await bob.jobs.submit.mutate(second)];
      const unkeyed = await bob.jobs.submit.mutate({ prompt: "waiting, no key", ...quick });
      expect(codeOf(await trpcError(bob.jobs.submit.mutate(keyed("one too many"))))).toEqual(tooMany);

      // A client that resends after a lost answer gets its job, at the limit as below it.
      expect(await bob.jobs.submit.mutate(first)).toMatchObject({ id: made[0]!.id, status: "queued" });
      const again = await bob.jobs.submitMany.mutate({ jobs: [second, first] });
      expect(again.map((job) => job.id)).toEqual([made[1]!.id, made[0]!.id]);
      // A batch that would make one new job passes the limit; refused, it stores none.
      const third = keyed("third");
      expect(codeOf(await trpcError(bob.jobs.submitMany.mutate({ jobs: [first, third] })))).toEqual(tooMany);
      const waiting = await bob.jobs.list.query({ status: ["queued"], limit: 500 });
      expect(waiting.items.map((job) => job.id)).toEqual([...made, unkeyed].map((job) => job.id));

      await bob.jobs.cancel.mutate({ jobId: unkeyed.id });
      const [kept, added] = await bob.jobs.submitMany.mutate({ jobs: [first, third] });
      expect(kept?.id).toBe(made[0]!.id);
      expect(added).toMatchObject({ prompt: third.prompt, status: "queued" });
      expect(codeOf(await trpcError(bob.jobs.submit.mutate(keyed("fourth"))))).toEqual(tooMany);
    });
  });

  it("answers two identical submissions at once with one job when one more would reach MAX_QUEUED_PER_USER", async () => {
    await whileGpuBusy(async () => {
      const bob = as("bob");
      for (let i = 0; i < 2; i++) await bob.jobs.submit.mutate({ prompt: `waiting ${i}`, ...quick });
      const request = { prompt: uniquePrompt("sent twice"), ...quick, idempotencyKey: uniquePrompt("twice") };
      const [one, other] = await Promise.all([bob.jobs.submit.mutate(request), bob.jobs.submit.mutate(request)]);
      expect(other.id).toBe(one.id);
      expect((await bob.jobs.list.query({ status: ["queued"], limit: 500 })).items).toHaveLength(3);
    });
  });

  it("lists each user with how many of their jobs wait, a job that runs or was cancelled not counted", async () => {
    await whileGpuBusy(async () => {
      const bob = as("bob");
      const bobs = [];
      for (let i = 0; i < 3; i++) bobs.push(await bob.jobs.submit.mutate({ prompt: `waiting ${i}`, ...quick }));
      await bob.jobs.cancel.mutate({ jobId: bobs[0]!.id });
      const waitingOf = async () =>
        Object.fromEntries((await admin.users.list.query()).map(({ name, waiting }) => [name, waiting]));
      // The admin's blocker runs: it waits no more.
      expect(await waitingOf()).toMatchObject({ admin: 0, ann: 0, bob: 2 });
      const annsJob = await as("ann").jobs.submit.mutate({ prompt: "ann waits too", ...quick });
      expect(await waitingOf()).toMatchObject({ admin: 0, ann: 1, bob: 2 });
      await admin.jobs.cancel.mutate({ jobId: annsJob.id });
    });
  });

  it("counts a retry against MAX_QUEUED_PER_USER like a submission", async () => {
    await whileGpuBusy(async () => {
      const bob = as("bob");
      const queued = [];
      for (let i = 0; i < 3; i++) queued.push(await bob.jobs.submit.mutate({ prompt: `waiting ${i}`, ...quick }));
      const [cancelled, other] = queued;
      await bob.jobs.cancel.mutate({ jobId: cancelled!.id });
      await bob.jobs.submit.mutate({ prompt: "waiting 3", ...quick });
      const refused = await trpcError(bob.jobs.retry.mutate({ jobId: cancelled!.id }));
      expect(codeOf(refused)).toEqual(tooMany);
      expect(refused.message).toBe(
        "You have 3 jobs waiting already, the most one user may have; wait for some to start",
      );
      // An admin's retry of bob's job joins bob's waiting jobs, and counts against bob.
      expect(codeOf(await trpcError(admin.jobs.retry.mutate({ jobId: cancelled!.id })))).toEqual(tooMany);
      expect((await bob.jobs.list.query({ status: ["queued"], limit: 500 })).items).toHaveLength(3);

      await bob.jobs.cancel.mutate({ jobId: other!.id });
      expect(await bob.jobs.retry.mutate({ jobId: cancelled!.id })).toMatchObject({
        prompt: cancelled!.prompt,
        owner: "bob",
        status: "queued",
      });
    });
  });

  it("signs a user in with a session cookie that is not the token, and signs them out", async () => {
    const login = await fetch(`${running.url}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-proto": "https" },
      body: JSON.stringify({ token: tokens.get("bob") }),
    });
    expect(login.status).toBe(200);
    // Who, and nothing of the credentials: neither the token's hash nor the session's.
    expect(await login.json()).toEqual({ ok: true, required: true, user: { name: "bob", admin: false } });
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^anvil_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\/; Max-Age=\d+; Secure$/);
    expect(setCookie).not.toContain(tokens.get("bob"));
    const cookie = { cookie: setCookie.split(";")[0]! };
    expect(await authorizedHttpClient(running.url, cookie).me.query()).toEqual({ name: "bob", admin: false });
    for (const headers of [cookie, bearer(tokens.get("bob")!)]) {
      const status = await fetch(`${running.url}/auth/status`, { headers });
      expect(await status.json()).toEqual({
        required: true,
        authorized: true,
        user: { name: "bob", admin: false },
        proxy: false,
        viaProxy: false,
      });
    }

    const wsUrl = `${running.url.replace(/^http/, "ws")}/trpc`;
    const own = new URL(running.url).origin;
    expect(await upgrade(wsUrl, { ...cookie, origin: "http://evil.example" })).toEqual({ opened: false, status: 403 });
    expect(await upgrade(wsUrl, { ...cookie, origin: own })).toEqual({ opened: true, status: 101 });
    // A Bearer token is no ambient credential: a script may send it from anywhere.
    expect(await upgrade(wsUrl, { ...bearer(tokens.get("bob")!), origin: "http://evil.example" })).toEqual({
      opened: true,
      status: 101,
    });

    const logout = await fetch(`${running.url}/auth/logout`, { method: "POST", headers: cookie });
    expect(logout.status).toBe(200);
    expect(logout.headers.get("set-cookie")).toMatch(/^anvil_session=; .*Max-Age=0/);
    expect(logout.headers.get("clear-site-data")).toBe('"cache"');
    expect(await codeOfCall(authorizedHttpClient(running.url, cookie).me.query())).toBe("UNAUTHORIZED");
  });

  it("stops a removed user's token at once and keeps their jobs", async () => {
    const { token } = await admin.users.create.mutate({ name: "leaver" });
    const leaver = authorizedHttpClient(running.url, bearer(token));
    const job = await leaver.jobs.submit.mutate({ prompt: uniquePrompt("left behind"), ...quick });
    const { closed } = await openApiSocket(running.url, token);
    expect(await admin.users.remove.mutate({ name: "leaver" })).toEqual({ name: "leaver" });
    expect(await codeOfCall(leaver.me.query())).toBe("UNAUTHORIZED");
    // What the token had open closes too: calls over that WebSocket were admitted as the removed user. Its client is
    // told why, with a close frame, not cut without a word (1006).
    expect(await closed).toEqual({ code: 1008, reason: "the user was removed" });
    expect(await admin.jobs.get.query({ jobId: job.id })).toMatchObject({ owner: "leaver" });
    expect(await codeOfCall(admin.users.remove.mutate({ name: "leaver" }))).toBe("NOT_FOUND");
  });

  it("takes no call over a removed user's WebSocket while it closes, though its client has not read the close yet", async () => {
    const { token } = await admin.users.create.mutate({ name: "late-caller" });
    const { socket, closed } = await openApiSocket(running.url, token);
    const call = (id: number, method: "mutation", path: string, input: unknown) =>
      socket.send(JSON.stringify({ id, method, params: { path, input } }));
    const waiting = async () => admin.jobs.list.query({ owner: "late-caller", status: ["queued"], limit: 10 });
    // Held, the job waits: a cancel that got through would end it.
    await admin.queue.pause.mutate();
    try {
      call(1, "mutation", "jobs.submit", { prompt: uniquePrompt("waits"), ...quick });
      await waitFor(async () => (await waiting()).items.length === 1, "the call sent before the removal is taken");
      const [job] = (await waiting()).items;
      // The client reads nothing for now: it has not seen the close frame when it sends its call.
      socket.pause();
      expect(await admin.users.remove.mutate({ name: "late-caller" })).toEqual({ name: "late-caller" });
      call(2, "mutation", "jobs.cancel", { jobId: job!.id });
      await new Promise((resolve) => setTimeout(resolve, 300));
      socket.resume();
      expect(await closed).toEqual({ code: 1008, reason: "the user was removed" });
      expect((await admin.jobs.get.query({ jobId: job!.id })).status).toBe("queued");
      await admin.jobs.cancel.mutate({ jobId: job!.id });
    } finally {
      await admin.queue.resume.mutate();
    }
  });

  it("tells a caller whose token names nobody that the token is wrong, not to send one", async () => {
    const refusal = async (headers: Record<string, string>) => {
      const response = await fetch(`${running.url}/trpc/me`, { headers });
      return {
        status: response.status,
        message: ((await response.json()) as { error: { message: string } }).error.message,
      };
    };
    const wrong = {
      status: 401,
      message:
        "Unauthorized: the Bearer token is neither API_TOKEN nor a user's token on this server (a removed user's " +
        "token stops working); send a valid one",
    };
    expect(await refusal(bearer("not-a-token-of-this-server"))).toEqual(wrong);
    const { token } = await admin.users.create.mutate({ name: "gone" });
    await admin.users.remove.mutate({ name: "gone" });
    expect(await refusal(bearer(token))).toEqual(wrong);
    // No token at all: told how to sign in.
    expect(await refusal({})).toEqual({
      status: 401,
      message: "Unauthorized: send Authorization: Bearer <token>, sign in, or come through the sign-in proxy",
    });
  });

  it("lets no admin remove themselves or a built-in user, and another admin remove an admin", async () => {
    const { token } = await admin.users.create.mutate({ name: "boss", admin: true });
    const boss = authorizedHttpClient(running.url, bearer(token));
    const refusal = async (call: Promise<unknown>) => {
      const error = await trpcError(call);
      return { code: codeOf(error).code, message: error.message };
    };
    expect(await refusal(boss.users.remove.mutate({ name: "boss" }))).toEqual({
      code: "CONFLICT",
      message: "You cannot remove yourself; another admin can",
    });
    expect(await boss.me.query()).toEqual({ name: "boss", admin: true });
    // API_TOKEN's admin is built in: no other admin can remove it either, so it is not told that one can.
    expect((await refusal(admin.users.remove.mutate({ name: "admin" }))).message).toContain("is built in");
    for (const name of ["admin", "local"]) {
      const builtIn = await refusal(boss.users.remove.mutate({ name }));
      expect(builtIn.code, name).toBe("CONFLICT");
      expect(builtIn.message).toMatch(new RegExp(`^${name} is built in .*cannot be removed$`));
    }
    expect(await admin.me.query()).toEqual({ name: "admin", admin: true });
    expect(await admin.users.remove.mutate({ name: "boss" })).toEqual({ name: "boss" });
    expect(await codeOfCall(boss.me.query())).toBe("UNAUTHORIZED");
  });
});

describe("sign-in limits and the sign-in proxy", () => {
  const [pglite] = testDrivers();
  let database: TestDatabase;
  let running: InProcessServer;

  beforeAll(async () => {
    database = await pglite!.create();
    running = await startInProcess(database, {
      apiToken: TOKEN,
      authProxyHeader: "X-Forwarded-User",
      failedLoginLimit: 3,
    });
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("names the user by the proxy's header, makes them on first sight, and refuses a request without it", async () => {
    const carol = authorizedHttpClient(running.url, { "x-forwarded-user": "Carol" });
    expect(await carol.me.query()).toEqual({ name: "carol", admin: false });
    const admin = authorizedHttpClient(running.url, bearer(TOKEN));
    expect((await admin.users.list.query()).map((user) => user.name)).toContain("carol");
    expect((await fetch(`${running.url}/trpc/me`)).status).toBe(401);
    expect((await fetch(`${running.url}/trpc/me`, { headers: { "x-forwarded-user": "admin" } })).status).toBe(401);
    // The page learns that the proxy named carol, so it offers no Sign out that could not work; the admin's token
    // is no proxy's.
    const status = (headers: Record<string, string>) =>
      fetch(`${running.url}/auth/status`, { headers }).then((answer) => answer.json());
    expect(await status({ "x-forwarded-user": "carol" })).toMatchObject({ proxy: true, viaProxy: true });
    expect(await status(bearer(TOKEN))).toMatchObject({ proxy: true, viaProxy: false, user: { name: "admin" } });
  });

  it("says why a name the proxy sends is no user, to the caller and once in the log", async () => {
    const refused = async () => {
      const response = await fetch(`${running.url}/trpc/me`, { headers: { "x-forwarded-user": "Bad Name!" } });
      expect(response.status).toBe(401);
      return ((await response.json()) as { error: { message: string } }).error.message;
    };
    const message = `Unauthorized: the sign-in proxy's X-Forwarded-User names "bad name!", which Anvil takes as no user: a name is 1..64 characters of a-z, 0-9, '.', '_', '-' and '@', and not local or admin`;
    expect(await refused()).toBe(message);
    expect(await refused()).toBe(message);
    expect(running.logs.filter((line) => line.msg === message)).toEqual([
      expect.objectContaining({ path: "/trpc/me", reason: "X-Forwarded-User names no valid user" }),
    ]);
    // A name in UTF-8, as a proxy sends it (Node reads a header's bytes as Latin-1), is shown as it was written.
    const accented = await fetch(`${running.url}/trpc/me`, {
      headers: { "x-forwarded-user": Buffer.from("josé", "utf8").toString("latin1") },
    });
    expect(((await accented.json()) as { error: { message: string } }).error.message).toContain('names "josé"');
    // Not a wrong token: no failed sign-in is counted against the address.
    expect(running.logs.filter((line) => line.msg === "failed sign-in")).toEqual([]);
  });

  it("lets users.create make a user the proxy named an admin, with a token, and refuses a name that has one", async () => {
    // A proxy commonly names users by e-mail address: users.create takes every name the proxy may bring.
    for (const [header, name] of [
      ["dan", "dan"],
      ["Eve@Example.com", "eve@example.com"],
    ] as const) {
      const user = authorizedHttpClient(running.url, { "x-forwarded-user": header });
      expect(await user.me.query()).toEqual({ name, admin: false });
      const admin = authorizedHttpClient(running.url, bearer(TOKEN));
      const made = await admin.users.create.mutate({ name, admin: true });
      expect(made).toMatchObject({ name, admin: true });
      expect(await user.me.query()).toEqual({ name, admin: true });
      expect(await authorizedHttpClient(running.url, bearer(made.token)).me.query()).toEqual({ name, admin: true });
      const again = await trpcError(admin.users.create.mutate({ name }));
      expect(codeOf(again)).toMatchObject({ code: "CONFLICT" });
    }
  });

  it("answers 429 from an address past its failed sign-ins, even to API_TOKEN, but lets in a user's own token", async () => {
    const { token: daveToken } = await authorizedHttpClient(running.url, bearer(TOKEN)).users.create.mutate({
      name: "dave",
    });
    const login = (token: string) =>
      fetch(`${running.url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token }),
      });
    for (let i = 0; i < 3; i++) expect((await login(`wrong-${i}`)).status).toBe(401);
    const blocked = await login(TOKEN);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThan(0);
    const api = await fetch(`${running.url}/trpc/me`, { headers: bearer(TOKEN) });
    expect(api.status).toBe(429);
    // The words say when, for a client that shows only them (the command line).
    const { error } = (await api.json()) as { error: { message: string } };
    expect(error.message).toBe(
      `Too many failed sign-ins from this address; try again in ${api.headers.get("retry-after")} s`,
    );
    // Behind a reverse proxy every client has its address: a token Anvil made (256 random bits, which no guess finds)
    // still works, at the API and at sign-in, so one outsider's guesses do not lock every script out.
    expect(await authorizedHttpClient(running.url, bearer(daveToken)).me.query()).toEqual({
      name: "dave",
      admin: false,
    });
    const daveSignsIn = await login(daveToken);
    expect(daveSignsIn.status).toBe(200);
    expect(daveSignsIn.headers.get("set-cookie")).toMatch(/^anvil_session=/);
    // A wrong guess meanwhile is still 429, and not counted again.
    expect((await fetch(`${running.url}/trpc/me`, { headers: bearer("wrong-3") })).status).toBe(429);
    expect((await login("wrong-4")).status).toBe(429);
    const logged = running.logs.filter((line) => line.msg === "failed sign-in");
    expect(logged).toHaveLength(3);
    expect(logged[0]).toMatchObject({ address: expect.stringMatching(/127\.0\.0\.1/), path: "/auth/login" });
    expect(JSON.stringify(logged)).not.toContain("wrong-0");
  });
});

describe("a wrong token where nobody signs in", () => {
  const [pglite] = testDrivers();
  const { start } = useFreshServer(pglite!);

  it("is told the token names nobody and that no sign-in is needed, not to send a token", async () => {
    const running = await start();
    const response = await fetch(`${running.url}/trpc/me`, { headers: bearer("not-a-token-of-this-server") });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
      "Unauthorized: the Bearer token is no user's token on this server (a removed user's token stops working); " +
        "send a valid one, or none: this server asks for no sign-in",
    );
    expect(await running.trpc.me.query()).toEqual({ name: "local", admin: true });
  });
});

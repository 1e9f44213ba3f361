import type { Job } from "@anvil/job-machine";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "./reliability/support/authorized-clients";
import { startInProcess } from "./reliability/support/in-process";
import type { InProcessServer } from "./reliability/support/in-process";
import type { AnvilClient } from "./testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { waitForStatus } from "./testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOfCall = async (call: Promise<unknown>) => codeOf(await trpcError(call)).code;

describe.each(testDrivers())("jobs.cancelWaiting on $kind", (driver) => {
  let database: TestDatabase;
  let server: InProcessServer;
  let admin: AnvilClient;
  const tokens = new Map<string, string>();
  const as = (name: string) => authorizedHttpClient(server.url, bearer(tokens.get(name)!));
  /** Each job's status and position, as `jobs.get` tells its owner. */
  const read = (client: AnvilClient, jobs: readonly Job[]) =>
    Promise.all(
      jobs.map(async (job) => {
        const { status, queuePosition } = await client.jobs.get.query({ jobId: job.id });
        return [status, queuePosition];
      }),
    );

  beforeAll(async () => {
    database = await driver.create();
    server = await startInProcess(database, { apiToken: TOKEN });
    admin = authorizedHttpClient(server.url, bearer(TOKEN));
    for (const name of ["ann", "bob", "cat"]) tokens.set(name, (await admin.users.create.mutate({ name })).token);
  });
  afterAll(async () => {
    await server?.anvil.close();
    await database?.dispose();
  });

  it("cancels the caller's waiting jobs (of one conversation, or all), never a running one or another user's", async () => {
    const ann = as("ann");
    const bob = as("bob");
    // ann's job holds the one GPU until it is cancelled: everything after it waits.
    const holder = await ann.jobs.submit.mutate({ prompt: uniquePrompt("holds the GPU sim:hang") });
    await waitForStatus(ann, holder.id, "processing");
    const first = await ann.conversations.create.mutate({ title: "first" });
    const second = await ann.conversations.create.mutate({ title: "second" });
    const submit = (client: AnvilClient, label: string, conversationId?: string) =>
      client.jobs.submit.mutate({
        prompt: uniquePrompt(label),
        ...quick,
        ...(conversationId ? { conversationId } : {}),
      });
    const inFirst = [await submit(ann, "first a", first.id), await submit(ann, "first b", first.id)];
    const bobs = [await submit(bob, "bob a"), await submit(bob, "bob b")];
    const inSecond = await submit(ann, "second", second.id);

    // Not a conversation of the caller's, not an admin's whole line, not a conversation id at all.
    expect(await codeOfCall(bob.jobs.cancelWaiting.mutate({ conversationId: first.id }))).toBe("NOT_FOUND");
    expect(await codeOfCall(bob.jobs.cancelWaiting.mutate({ everyone: true }))).toBe("FORBIDDEN");
    expect(await codeOfCall(ann.jobs.cancelWaiting.mutate({ conversationId: "not-a-conversation" } as never))).toBe(
      "BAD_REQUEST",
    );

    // One conversation: its waiting jobs leave the line; everyone else's move up (users take turns: bob, ann, bob).
    const byConversation = await ann.jobs.cancelWaiting.mutate({ conversationId: first.id });
    expect(byConversation.jobIds).toEqual(inFirst.map((job) => job.id));
    expect(await read(ann, inFirst)).toEqual([
      ["cancelled", 0],
      ["cancelled", 0],
    ]);
    expect(await read(bob, bobs)).toEqual([
      ["queued", 1],
      ["queued", 3],
    ]);
    expect(await read(ann, [inSecond])).toEqual([["queued", 2]]);

    // All of ann's: the job in the other conversation, not the one running, not bob's.
    expect((await ann.jobs.cancelWaiting.mutate()).jobIds).toEqual([inSecond.id]);
    expect(await read(ann, [inSecond, holder])).toEqual([
      ["cancelled", 0],
      ["processing", 0],
    ]);
    expect(await read(bob, bobs)).toEqual([
      ["queued", 1],
      ["queued", 2],
    ]);
    // Nothing left to cancel is no error.
    expect((await ann.jobs.cancelWaiting.mutate({})).jobIds).toEqual([]);

    // An admin may act on anyone's conversation: bob's waiting job there is cancelled, his other one stays.
    const bobs2 = await bob.conversations.create.mutate({ title: "bob's" });
    const inBobs = await submit(bob, "bob in his conversation", bobs2.id);
    expect((await admin.jobs.cancelWaiting.mutate({ conversationId: bobs2.id })).jobIds).toEqual([inBobs.id]);
    expect(await read(bob, [inBobs, ...bobs])).toEqual([
      ["cancelled", 0],
      ["queued", 1],
      ["queued", 2],
    ]);

    // An admin clears the whole line; the running job runs on.
    expect((await admin.jobs.cancelWaiting.mutate({ everyone: true })).jobIds).toEqual(bobs.map((job) => job.id));
    expect(await read(bob, bobs)).toEqual([
      ["cancelled", 0],
      ["cancelled", 0],
    ]);
    expect(await admin.queue.status.query()).toMatchObject({ queued: 0, processing: 1 });
    // Every cancellation is persisted, not only held in memory.
    for (const job of [...inFirst, inSecond, ...bobs]) {
      expect((await server.anvil.store.getJob(job.id))?.status).toBe("cancelled");
    }
    // Each owner is told who cancelled their jobs: themselves, or an admin.
    const cancelledBy = (client: AnvilClient, jobs: readonly Job[]) =>
      Promise.all(jobs.map(async (job) => (await client.jobs.get.query({ jobId: job.id })).cancelledBy));
    expect(await cancelledBy(ann, [...inFirst, inSecond])).toEqual(["ann", "ann", "ann"]);
    expect(await cancelledBy(bob, [inBobs, ...bobs])).toEqual(["admin", "admin", "admin"]);
    // A running job too, whose generation the admin stops.
    expect(await admin.jobs.cancel.mutate({ jobId: holder.id })).toMatchObject({
      status: "cancelled",
      cancelledBy: "admin",
    });
    expect(await cancelledBy(ann, [holder])).toEqual(["admin"]);
  });

  it("cancels one user's waiting jobs for an admin (owner), as when removing them; others' stay in line", async () => {
    const [ann, bob, cat] = [as("ann"), as("bob"), as("cat")];
    const holder = await ann.jobs.submit.mutate({ prompt: uniquePrompt("holds the GPU again sim:hang") });
    await waitForStatus(ann, holder.id, "processing");
    const submit = (client: AnvilClient, label: string) =>
      client.jobs.submit.mutate({ prompt: uniquePrompt(label), ...quick });
    const cats = [await submit(cat, "cat a"), await submit(cat, "cat b")];
    const others = [await submit(ann, "ann waits"), await submit(bob, "bob waits"), await submit(admin, "admin waits")];
    const conversation = await cat.conversations.create.mutate({ title: "cat's" });

    // Only an admin, and one scope at a time; each refusal says why, and cancels nothing.
    const refusal = async (call: Promise<unknown>) => {
      const error = await trpcError(call);
      return [codeOf(error).code, error.message];
    };
    expect(await refusal(bob.jobs.cancelWaiting.mutate({ owner: "cat" }))).toEqual([
      "FORBIDDEN",
      "only an admin may cancel another user's waiting jobs (owner)",
    ]);
    expect(await refusal(admin.jobs.cancelWaiting.mutate({ owner: "cat", everyone: true }))).toEqual([
      "BAD_REQUEST",
      expect.stringContaining("owner cannot be combined with everyone"),
    ]);
    expect(await refusal(admin.jobs.cancelWaiting.mutate({ owner: "cat", conversationId: conversation.id }))).toEqual([
      "BAD_REQUEST",
      expect.stringContaining("owner cannot be combined with conversationId"),
    ]);
    // A name no user can have is refused with the rule, not answered as a user with nothing waiting; so is it by
    // jobs.list, which would answer an empty page.
    const rule = "owner must be 1..64 characters of a-z, 0-9, '.', '_', '-' and '@'";
    expect(await refusal(admin.jobs.cancelWaiting.mutate({ owner: "" }))).toEqual(["BAD_REQUEST", rule]);
    expect(await refusal(admin.jobs.cancelWaiting.mutate({ owner: "Cat" }))).toEqual([
      "BAD_REQUEST",
      `${rule} (names are in lower case: cat)`,
    ]);
    expect(await refusal(admin.jobs.list.query({ owner: "Cat" }))).toEqual([
      "BAD_REQUEST",
      `${rule} (names are in lower case: cat)`,
    ]);
    expect(await refusal(admin.jobs.list.query({ owner: "cat's" }))).toEqual(["BAD_REQUEST", rule]);
    expect(await refusal(admin.users.remove.mutate({ name: "Cat" }))).toEqual([
      "BAD_REQUEST",
      "name must be 1..64 characters of a-z, 0-9, '.', '_', '-' and '@' (names are in lower case: cat)",
    ]);
    // A name nobody has holds no waiting jobs: nothing to cancel, and no error.
    expect((await admin.jobs.cancelWaiting.mutate({ owner: "nobody-by-this-name" })).jobIds).toEqual([]);
    expect(await admin.queue.status.query()).toMatchObject({ queued: 5, processing: 1 });

    // The admin removes cat and cancels her waiting jobs: hers leave the line, everyone else's (the admin's own too)
    // and the running job stay.
    await admin.users.remove.mutate({ name: "cat" });
    expect((await admin.jobs.cancelWaiting.mutate({ owner: "cat" })).jobIds).toEqual(cats.map((job) => job.id));
    for (const job of cats) {
      expect(await server.anvil.store.getJob(job.id)).toMatchObject({ status: "cancelled", cancelledBy: "admin" });
    }
    expect((await read(admin, [...others, holder])).map(([status]) => status)).toEqual([
      "queued",
      "queued",
      "queued",
      "processing",
    ]);
    expect((await admin.jobs.cancelWaiting.mutate({ owner: "cat" })).jobIds).toEqual([]);
    // A user may name themselves, as jobs.list lets them: their own waiting jobs, as without owner.
    expect((await bob.jobs.cancelWaiting.mutate({ owner: "bob" })).jobIds).toEqual([others[1]!.id]);
    await admin.jobs.cancelWaiting.mutate({ everyone: true });
    await admin.jobs.cancel.mutate({ jobId: holder.id });
  });
});

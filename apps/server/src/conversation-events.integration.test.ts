import type { AppRouter } from "@anvil/api";
import type { inferRouterOutputs } from "@trpc/server";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient, authorizedWsClient } from "./reliability/support/authorized-clients";
import { startInProcess, useInProcessCluster } from "./reliability/support/in-process";
import type { InProcessServer } from "./reliability/support/in-process";
import type { AnvilClient } from "./testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "./testing/fixtures";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";
import { waitFor } from "./testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

type ConversationEvent =
  inferRouterOutputs<AppRouter>["conversations"]["events"] extends AsyncIterable<{ data: infer Event }> ? Event : never;

/** A `conversations.events` subscriber: what it received, once its first `reload` said it listens. */
interface Watcher {
  events: ConversationEvent[];
  /** Waits until an event for which `match` holds has arrived. */
  saw(match: (event: ConversationEvent) => boolean, what: string): Promise<void>;
  stop(): void;
}

const stops: (() => void)[] = [];

async function watch(client: AnvilClient): Promise<Watcher> {
  const events: ConversationEvent[] = [];
  const subscription = client.conversations.events.subscribe(
    {},
    {
      onData: ({ data }) => void events.push(data),
      onError: (error) => events.push({ kind: "error", error } as never),
    },
  );
  stops.push(() => subscription.unsubscribe());
  const saw = (match: (event: ConversationEvent) => boolean, what: string) =>
    waitFor(
      () => events.some(match),
      () => `${what} (received: ${JSON.stringify(events)})`,
      5_000,
    );
  await saw((event) => event.kind === "reload", "the stream listens");
  return { events, saw, stop: () => subscription.unsubscribe() };
}

const savedAs = (id: string, title: string) => (event: ConversationEvent) =>
  event.kind === "saved" && event.conversation.id === id && event.conversation.title === title;
const deletedOf = (id: string) => (event: ConversationEvent) => event.kind === "deleted" && event.conversationId === id;

afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe.each(testDrivers())("conversations.events on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;
  const tokens = new Map<string, string>();
  const as = (name: string) => authorizedHttpClient(running.url, bearer(tokens.get(name)!));

  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database, { apiToken: TOKEN, failedLoginLimit: 1_000 });
    const admin = authorizedHttpClient(running.url, bearer(TOKEN));
    for (const name of ["ann", "bob"]) tokens.set(name, (await admin.users.create.mutate({ name })).token);
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  it("tells a second page of the same user of a conversation made, renamed and deleted, and another user of none", async () => {
    const ann = as("ann");
    const annsOtherPage = await watch(as("ann"));
    const socket = authorizedWsClient(running.url, bearer(tokens.get("ann")!));
    stops.push(() => void socket.close());
    const annsWebSocket = await watch(socket.client);
    const bobsPage = await watch(as("bob"));
    const adminsPage = await watch(authorizedHttpClient(running.url, bearer(TOKEN)));

    const made = await ann.conversations.create.mutate({ title: "made in one tab" });
    // An event carries the conversation as the database has it when the event is sent: renamed before a page's
    // stream read it, both of its events would carry the new title. So the rename waits for every page.
    const pages = [annsOtherPage, annsWebSocket, adminsPage];
    for (const page of pages) await page.saw(savedAs(made.id, "made in one tab"), "the new conversation arrives");
    await ann.conversations.rename.mutate({ conversationId: made.id, title: "renamed in that tab" });
    // A submit without a conversation makes one, titled after its prompt.
    const prompt = uniquePrompt("a lighthouse");
    const job = await ann.jobs.submit.mutate({ prompt, ...quick });
    for (const page of pages) {
      await page.saw(savedAs(made.id, "renamed in that tab"), "its new title arrives");
      await page.saw(savedAs(job.conversationId, prompt), "the conversation the submit made arrives");
    }
    await ann.conversations.delete.mutate({ conversationId: made.id });
    for (const page of pages) {
      await page.saw(deletedOf(made.id), "the deletion arrives");
    }

    // Bob's own change comes after ann's in the hub, so his stream would have sent hers before it.
    const bobs = await as("bob").conversations.create.mutate({ title: "bob's" });
    await bobsPage.saw(savedAs(bobs.id, "bob's"), "bob's own conversation arrives");
    expect(bobsPage.events).toEqual([{ kind: "reload" }, { kind: "saved", conversation: bobs }]);
    expect(JSON.stringify(bobsPage.events)).not.toContain(made.id);
    expect(annsOtherPage.events.some((event) => JSON.stringify(event).includes(bobs.id))).toBe(false);
  });

  it("sends the title the database kept when two renames race", async () => {
    const ann = as("ann");
    const page = await watch(as("ann"));
    const { id } = await ann.conversations.create.mutate({ title: "first" });
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => ann.conversations.rename.mutate({ conversationId: id, title: `title ${i}` })),
    );
    const kept = (await ann.conversations.get.query({ conversationId: id })).title;
    await page.saw(savedAs(id, kept), "the kept title arrives");
    await waitFor(() => {
      const last = page.events.filter((event) => event.kind === "saved" && event.conversation.id === id).at(-1);
      return last?.kind === "saved" && last.conversation.title === kept;
    }, "the last event for it carries the kept title");
  });

  it("refuses an input it does not know as BAD_REQUEST naming the field, and takes the lastEventId an EventSource sends back", async () => {
    const refusal = (input: unknown) =>
      new Promise<unknown>((resolve) => {
        const subscription = as("ann").conversations.events.subscribe(input as never, {
          onData: () => resolve("an event instead of an error"),
          onError: resolve,
        });
        stops.push(() => subscription.unsubscribe());
      });
    const cases: [unknown, string][] = [
      [{ conversationId: "x" }, "conversationId"],
      [{ lastEventId: "not an id" }, "lastEventId"],
      [{ lastEventId: 7 }, "lastEventId"],
      [[1], "object"],
    ];
    for (const [bad, field] of cases) {
      const error = await refusal(bad);
      expect(codeOf(error as never), JSON.stringify(bad)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
      expect((error as Error).message).toContain(field);
    }
    const events: unknown[] = [];
    const resumed = as("ann").conversations.events.subscribe(
      { lastEventId: "12" },
      { onData: ({ data }) => void events.push(data) },
    );
    stops.push(() => resumed.unsubscribe());
    await waitFor(() => events.length > 0, "the resumed stream begins");
    expect(events[0]).toEqual({ kind: "reload" });
    // Renaming a conversation that is not the caller's is NOT_FOUND.
    const bobs = await as("bob").conversations.create.mutate({ title: "bob's" });
    const rename = await trpcError(as("ann").conversations.rename.mutate({ conversationId: bobs.id, title: "mine" }));
    expect(codeOf(rename).code).toBe("NOT_FOUND");
  });
});

const postgres = testDrivers().find((driver) => driver.kind === "postgres");

describe.skipIf(!postgres)("conversations.events across a 2-server cluster", { timeout: 120_000 }, () => {
  const cluster = useInProcessCluster(postgres!);

  it("reaches a page on one server when a conversation changes through the other", async () => {
    const [leader, follower] = [cluster.leader(), cluster.follower()];
    const onFollower = await watch(follower.trpc);
    const onLeader = await watch(leader.trpc);

    const made = await leader.trpc.conversations.create.mutate({ title: "made on the leader" });
    // An event carries the conversation as the database has it when the event is sent, so the rename waits until
    // both pages saw the new conversation: sent after the rename, both events would carry the new title.
    for (const page of [onFollower, onLeader]) {
      await page.saw(savedAs(made.id, "made on the leader"), "the new conversation arrives");
    }
    await follower.trpc.conversations.rename.mutate({ conversationId: made.id, title: "renamed on the follower" });
    for (const page of [onFollower, onLeader]) {
      await page.saw(savedAs(made.id, "renamed on the follower"), "its new title arrives");
    }
    await follower.trpc.conversations.delete.mutate({ conversationId: made.id });
    for (const page of [onFollower, onLeader]) await page.saw(deletedOf(made.id), "the deletion arrives");
  });
});

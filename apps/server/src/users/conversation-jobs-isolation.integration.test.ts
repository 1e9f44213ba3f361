import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { startInProcess } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitForStatus } from "../testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(testDrivers())("an admin's job in a user's conversation, on $kind", (driver) => {
  let database: TestDatabase;
  let server: InProcessServer;
  let admin: AnvilClient;
  let bob: AnvilClient;

  beforeAll(async () => {
    database = await driver.create();
    server = await startInProcess(database, { apiToken: TOKEN });
    admin = authorizedHttpClient(server.url, bearer(TOKEN));
    bob = authorizedHttpClient(server.url, bearer((await admin.users.create.mutate({ name: "bob" })).token));
  });
  afterAll(async () => {
    await server?.anvil.close();
    await database?.dispose();
  });

  it("is refused: an admin's job goes into a conversation of the admin's, never into a card the owner cannot read", async () => {
    const own = await bob.jobs.submit.mutate({ prompt: uniquePrompt("bob's"), ...quick });
    await waitForStatus(bob, own.id, "complete");
    const error = await trpcError(
      admin.jobs.submit.mutate({
        prompt: uniquePrompt("the admin's, in bob's conversation"),
        ...quick,
        conversationId: own.conversationId,
      }),
    );
    expect(codeOf(error)).toEqual({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(error.message).toBe(
      `conversationId: conversation ${own.conversationId} is bob's; a job goes into a conversation of the user who submits it (leave conversationId out to start a new one)`,
    );
    const many = await trpcError(
      admin.jobs.submitMany.mutate({
        jobs: [
          { prompt: uniquePrompt("the admin's own"), ...quick },
          { prompt: uniquePrompt("the admin's, in bob's"), ...quick, conversationId: own.conversationId },
        ],
      }),
    );
    expect(many.message).toMatch(/^jobs\.1\.conversationId: conversation .* is bob's;/);
    // Nothing was stored: bob's conversation holds his prompt and its answer, and the admin made no job at all.
    expect(await bob.messages.list.query({ conversationId: own.conversationId })).toHaveLength(2);
    expect((await admin.jobs.list.query({ owner: "admin" })).items).toEqual([]);
    // The admin still reads it.
    expect(await admin.messages.list.query({ conversationId: own.conversationId })).toHaveLength(2);
  });
});

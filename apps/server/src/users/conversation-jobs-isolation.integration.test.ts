import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { startInProcess } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { quick, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";
import { waitForStatus } from "../testing/wait";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(testDrivers())("another user's job in a user's conversation, on $kind", (driver) => {
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

  it("is not cancelled by the conversation's owner's jobs.cancelWaiting, which cancels only jobs they may see", async () => {
    const holder = await admin.jobs.submit.mutate({ prompt: uniquePrompt("holds the GPU sim:hang") });
    try {
      await waitForStatus(admin, holder.id, "processing");
      const own = await bob.jobs.submit.mutate({ prompt: uniquePrompt("bob's"), ...quick });
      // An admin may submit into anyone's conversation; the job is the admin's, and bob cannot even see it.
      const admins = await admin.jobs.submit.mutate({
        prompt: uniquePrompt("the admin's, in bob's conversation"),
        ...quick,
        conversationId: own.conversationId,
      });
      expect(admins.owner).toBe("admin");

      expect(await bob.jobs.cancelWaiting.mutate({ conversationId: own.conversationId })).toEqual({
        jobIds: [own.id],
      });
      expect(await admin.jobs.get.query({ jobId: admins.id })).toMatchObject({ status: "queued" });
      await admin.jobs.cancel.mutate({ jobId: admins.id });
    } finally {
      await admin.jobs.cancel.mutate({ jobId: holder.id });
    }
  });
});

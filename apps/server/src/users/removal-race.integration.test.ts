import type { Caller } from "@anvil/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "../reliability/support/authorized-clients";
import { startInProcess } from "../reliability/support/in-process";
import type { InProcessServer } from "../reliability/support/in-process";
import type { AnvilClient } from "../testing/clients";
import { codeOf, quick, trpcError, uniquePrompt } from "../testing/fixtures";
import { testDrivers } from "../testing/test-databases";
import type { TestDatabase } from "../testing/test-databases";

const TOKEN = "the-admins-api-token";
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Holds the API calls of one user after their admission, before their body is read, until let go. */
class AdmissionHold {
  private held: { name: string; admitted: () => void; release: Promise<void> } | null = null;

  /** Holds `name`'s next call; resolves once it was admitted, with what lets it go on. */
  next(name: string): Promise<() => void> {
    return new Promise((admitted) => {
      let go!: () => void;
      const release = new Promise<void>((resolve) => (go = resolve));
      this.held = { name, admitted: () => admitted(go), release };
    });
  }

  readonly afterAdmission = async (caller: Caller): Promise<void> => {
    const held = this.held;
    if (held === null || held.name !== caller.name) return;
    this.held = null;
    held.admitted();
    await held.release;
  };
}

describe.each(testDrivers())("a user removed while a submission of theirs is on its way, on $kind", (driver) => {
  let database: TestDatabase;
  let running: InProcessServer;
  let admin: AnvilClient;
  const hold = new AdmissionHold();

  beforeAll(async () => {
    database = await driver.create();
    running = await startInProcess(database, { apiToken: TOKEN, afterAdmission: hold.afterAdmission });
    admin = authorizedHttpClient(running.url, bearer(TOKEN));
    // Nothing starts: every job submitted waits, so a waiting job left behind shows.
    await admin.queue.pause.mutate();
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  const waitingOf = async (owner: string) =>
    (await admin.jobs.list.query({ owner, status: ["queued"], limit: 500 })).items.map((job) => job.id);

  it("refuses a submission admitted before the removal and stored after it: remove, then cancel, leaves none", async () => {
    const { token } = await admin.users.create.mutate({ name: "leaving" });
    const leaving = authorizedHttpClient(running.url, bearer(token));
    const before = await leaving.jobs.submit.mutate({ prompt: uniquePrompt("already waiting"), ...quick });

    const admitted = hold.next("leaving");
    const submission = leaving.jobs.submit.mutate({ prompt: uniquePrompt("on its way"), ...quick });
    const release = await admitted;
    // The admin removes the user and cancels their waiting jobs while the submission is past its admission.
    expect(await admin.users.remove.mutate({ name: "leaving" })).toEqual({ name: "leaving" });
    expect((await admin.jobs.cancelWaiting.mutate({ owner: "leaving" })).jobIds).toEqual([before.id]);
    release();

    const refused = await trpcError(submission);
    expect(codeOf(refused).code).toBe("UNAUTHORIZED");
    expect(refused.message).toBe(
      "Your user was removed while this submission was on its way; the job was not accepted (an admin can make " +
        "the user again)",
    );
    expect(await waitingOf("leaving")).toEqual([]);
  });

  it("lets a user made again with the name submit, and an admin retry a removed user's job", async () => {
    const { token } = await admin.users.create.mutate({ name: "back" });
    const first = await authorizedHttpClient(running.url, bearer(token)).jobs.submit.mutate({
      prompt: uniquePrompt("first"),
      ...quick,
    });
    await admin.users.remove.mutate({ name: "back" });
    await admin.jobs.cancelWaiting.mutate({ owner: "back" });
    // A call admitted after the removal is a new user's.
    const again = (await admin.users.create.mutate({ name: "back" })).token;
    const made = await authorizedHttpClient(running.url, bearer(again)).jobs.submit.mutate({
      prompt: uniquePrompt("second"),
      ...quick,
    });
    expect(made).toMatchObject({ owner: "back", status: "queued" });
    // The admin's retry is the admin's call: the job's owner being removed once does not refuse it.
    expect(await admin.jobs.retry.mutate({ jobId: first.id })).toMatchObject({ owner: "back", status: "queued" });
    await admin.jobs.cancelWaiting.mutate({ owner: "back" });
  });
});

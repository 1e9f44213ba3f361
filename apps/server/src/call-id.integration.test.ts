import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authorizedHttpClient } from "./reliability/support/authorized-clients";
import { startInProcess } from "./reliability/support/in-process";
import type { InProcessServer } from "./reliability/support/in-process";
import { testDrivers } from "./testing/test-databases";
import type { TestDatabase } from "./testing/test-databases";

const TOKEN = "the-admins-api-token";
const job = (prompt: string) => ({ prompt, width: 64, height: 64, steps: 1 });

describe("a call a follower forwarded with a call id (x-anvil-call-id)", () => {
  let database: TestDatabase;
  let running: InProcessServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await testDrivers()[0]!.create();
    running = await startInProcess(database, { apiToken: TOKEN });
    const admin = authorizedHttpClient(running.url, { authorization: `Bearer ${TOKEN}` });
    for (const name of ["ann", "bob"]) tokens[name] = (await admin.users.create.mutate({ name })).token;
  });
  afterAll(async () => {
    await running?.anvil.close();
    await database?.dispose();
  });

  /** `who` calls `path` with `body`, as a follower forwards it (with `callId`), or directly (callId null). */
  const call = async (who: string, path: string, body: unknown, callId: string | null) => {
    const response = await fetch(`${running.url}/trpc/${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${tokens[who]}`,
        ...(callId === null ? {} : { "x-anvil-forwarded": "1", "x-anvil-call-id": callId }),
      },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      echo: response.headers.get("x-anvil-call-id"),
      keys: response.headers.get("x-anvil-call-keys"),
      json: (await response.json()) as unknown,
    };
  };
  type Made = { result: { data: { id: string; owner: string } } };
  const idOf = (reply: { json: unknown }) => (reply.json as Made).result.data.id;

  it("makes a key-less submission once, however often the same call is sent, and says it took the id", async () => {
    const callId = randomUUID();
    const first = await call("ann", "jobs.submit", job("a kite"), callId);
    // It lists what it keys by call ids: a follower resends a retry only to follow a leader that keyed one.
    expect(first).toMatchObject({ status: 200, echo: callId, keys: "jobs.submit,jobs.submitMany,jobs.retry" });
    const again = await call("ann", "jobs.submit", job("a kite"), callId);
    expect(idOf(again)).toBe(idOf(first));
    // Another call is another job.
    expect(idOf(await call("ann", "jobs.submit", job("a kite"), randomUUID()))).not.toBe(idOf(first));
  });

  it("gives each submission of a batch and of a submitMany its own job, the same ones when sent again", async () => {
    const callId = randomUUID();
    const batch = { 0: job("twice"), 1: job("twice") };
    const ids = (reply: { json: unknown }) => (reply.json as Made[]).map((item) => item.result.data.id);
    const sent = await call("ann", "jobs.submit,jobs.submit?batch=1", batch, callId);
    const resent = await call("ann", "jobs.submit,jobs.submit?batch=1", batch, callId);
    expect(new Set(ids(sent)).size).toBe(2);
    expect(ids(resent)).toEqual(ids(sent));

    const many = { jobs: [job("many"), job("many")] };
    const manyId = randomUUID();
    type MadeMany = { result: { data: { id: string }[] } };
    const made = ((await call("ann", "jobs.submitMany", many, manyId)).json as MadeMany).result.data;
    const madeAgain = ((await call("ann", "jobs.submitMany", many, manyId)).json as MadeMany).result.data;
    expect(new Set(made.map((item) => item.id)).size).toBe(2);
    expect(madeAgain.map((item) => item.id)).toEqual(made.map((item) => item.id));
  });

  it("retries a job once, however often the same call is sent", async () => {
    const admin = authorizedHttpClient(running.url, { authorization: `Bearer ${TOKEN}` });
    // Paused, so that the job waits to be cancelled, and can then be retried.
    await admin.queue.pause.mutate();
    try {
      const failed = idOf(await call("ann", "jobs.submit", job("once more"), null));
      expect((await call("ann", "jobs.cancel", { jobId: failed }, null)).status).toBe(200);
      const callId = randomUUID();
      const first = await call("ann", "jobs.retry", { jobId: failed }, callId);
      // It lists what it keys by call ids: a follower resends a retry only to follow a leader that keyed one.
      expect(first).toMatchObject({ status: 200, echo: callId, keys: "jobs.submit,jobs.submitMany,jobs.retry" });
      expect(idOf(first)).not.toBe(failed);
      expect(idOf(await call("ann", "jobs.retry", { jobId: failed }, callId))).toBe(idOf(first));
      // Another call is another job.
      expect(idOf(await call("ann", "jobs.retry", { jobId: failed }, randomUUID()))).not.toBe(idOf(first));
    } finally {
      await admin.queue.resume.mutate();
    }
  });

  it("keys within the caller's own jobs: another user's call with the same id gets a job of their own", async () => {
    const callId = randomUUID();
    const anns = await call("ann", "jobs.submit", job("mine"), callId);
    const bobs = await call("bob", "jobs.submit", job("mine"), callId);
    expect(bobs.status).toBe(200);
    expect(idOf(bobs)).not.toBe(idOf(anns));
    expect((bobs.json as Made).result.data).toMatchObject({ owner: "bob" });
  });

  it("leaves a submission's own idempotencyKey as it is, and takes no id from a call made directly", async () => {
    const key = `own-${randomUUID()}`;
    const keyed = await call("ann", "jobs.submit", { ...job("keyed"), idempotencyKey: key }, randomUUID());
    const sameKey = await call("ann", "jobs.submit", { ...job("keyed"), idempotencyKey: key }, randomUUID());
    expect(idOf(sameKey)).toBe(idOf(keyed));

    const callId = randomUUID();
    // Without x-anvil-forwarded the header is nobody's call id: each call is its own.
    const direct = () =>
      fetch(`${running.url}/trpc/jobs.submit`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${tokens["ann"]}`,
          "x-anvil-call-id": callId,
        },
        body: JSON.stringify(job("direct")),
      }).then(async (response) => ({
        echo: response.headers.get("x-anvil-call-id"),
        json: (await response.json()) as unknown,
      }));
    const one = await direct();
    const two = await direct();
    expect(one.echo).toBeNull();
    expect(idOf(two)).not.toBe(idOf(one));
  });
});

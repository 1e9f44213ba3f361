import { hostname } from "node:os";
import { RECEIVER_REFUSED } from "@anvil/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReceiver } from "./testing/webhook-receiver";
import type { WebhookReceiver } from "./testing/webhook-receiver";
import { guardedFetch, isMetadataAddress, METADATA_ADDRESS } from "./webhook-fetch";
import type { ForbiddenReceiver } from "./webhook-fetch";

/** What a fetch's failure carries in its cause: the code and the words. */
const failureOf = async (request: Promise<Response>) => {
  const error = (await request.then(
    () => new Error("it was sent"),
    (e: unknown) => e,
  )) as Error & { cause?: { code?: string; message?: string } };
  return { code: error.cause?.code, message: error.cause?.message ?? error.message };
};

describe("guardedFetch", () => {
  let receiver: WebhookReceiver;
  let forbidden: ForbiddenReceiver[] = [];
  const send = guardedFetch(() => forbidden);
  const post = (url: string) => send(url, { method: "POST", body: "{}" });
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver.close());

  it("never connects to a forbidden receiver, however its host is written, and says which it is", async () => {
    // The receiver stands for a Forge backend listening on 127.0.0.1.
    forbidden = [{ url: `http://127.0.0.1:${receiver.port}`, what: "the Forge backend 127.0.0.1" }];
    for (const url of [
      receiver.url,
      `http://localhost:${receiver.port}/sdapi/v1/interrupt`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/`,
      `http://${hostname()}:${receiver.port}/`,
    ]) {
      expect(await failureOf(post(url)), url).toEqual({
        code: RECEIVER_REFUSED,
        message: "the callbackUrl reaches the Forge backend 127.0.0.1; webhooks are never sent there",
      });
    }
    // Named by a name that resolves to this machine, the backend is found through the addresses too.
    forbidden = [{ url: `http://localhost:${receiver.port}`, what: "the Forge backend localhost" }];
    expect((await failureOf(post(receiver.url))).code).toBe(RECEIVER_REFUSED);
    expect(receiver.received).toEqual([]);
  });

  it("never connects to a cloud's metadata service, however its address is written", async () => {
    forbidden = [];
    for (const url of [
      "http://169.254.169.254/latest/meta-data/",
      "http://0xa9fea9fe/",
      "http://[::ffff:169.254.169.254]/",
      "http://[fe80::1]:8080/",
      "http://[FEBF::a:1]/",
      "http://[fd00:ec2:0::254]/",
    ]) {
      expect(await failureOf(post(url)), url).toEqual({
        code: RECEIVER_REFUSED,
        message: `the callbackUrl reaches ${METADATA_ADDRESS}; webhooks are never sent there`,
      });
    }
  });

  it("tells metadata addresses from their neighbours", () => {
    for (const address of ["169.254.0.1", "169.254.169.254", "fe80::1", "febf:ffff::1", "fd00:ec2::254"]) {
      expect(isMetadataAddress(address), address).toBe(true);
    }
    for (const address of ["169.25.4.1", "10.169.254.1", "fec0::1", "fe8::1", "fd00:ec2::253", "example.com"]) {
      expect(isMetadataAddress(address), address).toBe(false);
    }
  });

  it("sends to a receiver on another port of the same machine, and fails a name that does not resolve as fetch does", async () => {
    forbidden = [{ url: `http://127.0.0.1:${receiver.port + 1}`, what: "the Forge backend next door" }];
    const response = await post(`http://localhost:${receiver.port}/hook`);
    expect(response.status).toBe(200);
    expect(receiver.received).toHaveLength(1);
    const unknown = await failureOf(post("http://no-such-host.invalid/hook"));
    expect(unknown.code).not.toBe(RECEIVER_REFUSED);
    expect(unknown.code).toMatch(/^E(NOTFOUND|AI_AGAIN)$/);
  });
});

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { WebhookStore } from "@anvil/persistence";
import { describe, expect, it } from "vitest";
import { DEFAULT_WEBHOOK_RETRY, retryDelay, WebhookDispatcher } from "./webhook-dispatcher";

describe("retryDelay", () => {
  it("waits 2.5–5 s before the first retry, doubling that range each time, and 7.5–15 min once it reaches 15 min (docs/API.md Webhooks)", () => {
    const seconds = (s: number) => s * 1_000;
    const documented: [attempt: number, min: number, max: number][] = [
      [1, seconds(2.5), seconds(5)],
      [2, seconds(5), seconds(10)],
      [3, seconds(10), seconds(20)],
      [8, seconds(320), seconds(640)],
      [9, seconds(450), seconds(900)],
      [40, seconds(450), seconds(900)],
    ];
    for (const [attempt, min, max] of documented) {
      for (let i = 0; i < 200; i++) {
        const delay = retryDelay(attempt, DEFAULT_WEBHOOK_RETRY);
        expect(delay, `retry ${attempt}`).toBeGreaterThanOrEqual(min);
        expect(delay, `retry ${attempt}`).toBeLessThanOrEqual(max);
      }
    }
  });
});

describe("WebhookDispatcher", () => {
  it("gives up on a receiver that does not answer within the timeout, however soon memory is collected", async () => {
    // Node 20 may collect an AbortSignal.timeout held only by AbortSignal.any before it fires (nodejs/node#57736):
    // the POST then waited for as long as the receiver took. Collecting garbage while it waits shows it.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const receiver = createServer((_req, res) => setTimeout(() => res.end("late"), 3_000));
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const { port } = receiver.address() as AddressInfo;
    const outcomes: { error: string; at: number }[] = [];
    let claimed = false;
    const store = {
      claim: async () => {
        if (claimed) return [];
        claimed = true;
        const delivery = { id: "1.0", jobId: "j", url: `http://127.0.0.1:${port}/hook`, body: "{}", attempt: 1 };
        return [{ ...delivery, claim: "c", createdAt: new Date() }];
      },
      delivered: async () => true,
      failed: async (_delivery: unknown, error: string) => {
        outcomes.push({ error, at: Date.now() });
        return "pending" as const;
      },
      prune: async () => 0,
    } as unknown as WebhookStore;
    const dispatcher = new WebhookDispatcher({ store, timeoutMs: 300, pollMs: 60_000 });
    const started = Date.now();
    const collecting = setInterval(gc, 20);
    try {
      dispatcher.start();
      while (outcomes.length === 0 && Date.now() - started < 5_000) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      clearInterval(collecting);
      await dispatcher.stop();
      receiver.closeAllConnections();
      receiver.close();
    }
    expect(outcomes).toEqual([{ error: "no answer within the timeout", at: expect.any(Number) as number }]);
    expect(outcomes[0]!.at - started).toBeLessThan(2_000);
  });
});

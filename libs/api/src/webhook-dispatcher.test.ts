import { describe, expect, it } from "vitest";
import { DEFAULT_WEBHOOK_RETRY, retryDelay } from "./webhook-dispatcher";

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

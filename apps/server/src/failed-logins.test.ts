import { describe, expect, it } from "vitest";
import { FailedLogins } from "./failed-logins";

describe("FailedLogins", () => {
  it("refuses an address past the limit until its window has moved on, and no other address", () => {
    let now = 1_000;
    const limiter = new FailedLogins({ limit: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs("10.0.0.1")).toBe(0);
      limiter.fail("10.0.0.1");
      now += 1_000;
    }
    expect(limiter.retryAfterMs("10.0.0.1")).toBe(57_000);
    expect(limiter.retryAfterMs("10.0.0.2")).toBe(0);
    now += 57_000;
    expect(limiter.retryAfterMs("10.0.0.1")).toBe(0);
  });
});

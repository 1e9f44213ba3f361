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

  it("learns the failures the cluster counted when they are more than its own, and times them from their ages", () => {
    let now = 100_000;
    const limiter = new FailedLogins({ limit: 3, windowMs: 60_000, now: () => now });
    limiter.fail("10.0.0.1");
    // Fewer than it knows of: nothing changes.
    limiter.learn("10.0.0.1", []);
    expect(limiter.fail("10.0.0.1")).toBe(2);
    // Three, the oldest 30 s ago (two of them at other servers): past the limit until that one is a minute old.
    limiter.learn("10.0.0.1", [30_000, 10_000, 0]);
    expect(limiter.retryAfterMs("10.0.0.1")).toBe(30_000);
    now += 30_000;
    expect(limiter.retryAfterMs("10.0.0.1")).toBe(0);
  });
});

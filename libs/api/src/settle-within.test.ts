import { describe, expect, it } from "vitest";
import { settleWithin } from "./settle-within";

describe("settleWithin", () => {
  it("answers the work's value when it settles in time, and the fallback when it does not", async () => {
    expect(await settleWithin(Promise.resolve("done"), 1_000, "late")).toBe("done");
    expect(await settleWithin(new Promise<string>(() => {}), 10, "late")).toBe("late");
  });

  it("passes a rejection through", async () => {
    await expect(settleWithin(Promise.reject(new Error("refused")), 1_000, null)).rejects.toThrow("refused");
  });
});

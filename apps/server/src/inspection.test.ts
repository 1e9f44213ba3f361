import { describe, expect, it } from "vitest";
import { inspectionMode } from "./inspection";

describe("inspectionMode", () => {
  it("is on by default, also for npm start, and off under NODE_ENV=production", () => {
    expect(inspectionMode({ ANVIL_INSPECT: undefined, NODE_ENV: undefined })).toBe("on");
    expect(inspectionMode({ ANVIL_INSPECT: undefined, NODE_ENV: "development" })).toBe("on");
    expect(inspectionMode({ ANVIL_INSPECT: undefined, NODE_ENV: "production" })).toBe("off");
  });

  it("follows ANVIL_INSPECT whatever NODE_ENV says", () => {
    expect(inspectionMode({ ANVIL_INSPECT: "1", NODE_ENV: "production" })).toBe("on");
    expect(inspectionMode({ ANVIL_INSPECT: "0", NODE_ENV: undefined })).toBe("off");
    expect(inspectionMode({ ANVIL_INSPECT: "stately", NODE_ENV: "production" })).toBe("stately");
  });
});

import { describe, expect, it } from "vitest";
import { inspectionMode, nodeEnvWarning } from "./inspection";

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

describe("nodeEnvWarning", () => {
  it("names a NODE_ENV that means production but is not the word, and what it leaves on", () => {
    expect(nodeEnvWarning({ ANVIL_INSPECT: undefined, NODE_ENV: "prod" })).toBe(
      "NODE_ENV=prod is not NODE_ENV=production: inspection is on (ANVIL_INSPECT is unset), and logs on a terminal are not JSON; set NODE_ENV=production",
    );
    expect(nodeEnvWarning({ ANVIL_INSPECT: "0", NODE_ENV: "Production" })).toBe(
      "NODE_ENV=Production is not NODE_ENV=production: logs on a terminal are not JSON; set NODE_ENV=production",
    );
  });

  it("says nothing of production itself, of no NODE_ENV, or of other values", () => {
    for (const value of [undefined, "production", "development", "test", "staging"]) {
      expect(nodeEnvWarning({ ANVIL_INSPECT: undefined, NODE_ENV: value })).toBeNull();
    }
  });
});

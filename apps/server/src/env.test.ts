import { describe, expect, it } from "vitest";
import { readEnv } from "./env";

describe("readEnv", () => {
  it("refuses a Forge listed twice under two spellings, naming the variable", () => {
    expect(() => readEnv({ FORGE_URL: "http://gpu-1:7860,http://GPU-1:7860/" })).toThrow(
      "Invalid environment: FORGE_URL names http://gpu-1:7860 twice",
    );
  });

  it("takes credentials in FORGE_URL and never repeats them in its error", () => {
    expect(readEnv({ FORGE_URL: "http://anvil:s3cret@gpu-1:7860" }).FORGE_URL).toEqual([
      "http://anvil:s3cret@gpu-1:7860",
    ]);
    expect(() => readEnv({ FORGE_URL: "http://anvil:s3cret@gpu-1:7860,ftp://anvil:s3cret@x" })).toThrow(
      /^(?!.*s3cret).*FORGE_URL\.1 must be http\(s\) URLs/,
    );
  });

  it("gives the cluster lease and the shutdown grace their defaults", () => {
    expect(readEnv({})).toMatchObject({ LEASE_MS: 10_000, SHUTDOWN_GRACE_MS: 25_000 });
  });

  it("takes a shutdown grace of 0 (interrupt at once) and a positive lease", () => {
    expect(readEnv({ SHUTDOWN_GRACE_MS: "0", LEASE_MS: "2500" })).toMatchObject({
      SHUTDOWN_GRACE_MS: 0,
      LEASE_MS: 2_500,
    });
  });

  it.each([
    [{ LEASE_MS: "0" }, "Invalid environment: LEASE_MS must be positive"],
    [{ LEASE_MS: "soon" }, "Invalid environment: LEASE_MS must be a number"],
    [{ SHUTDOWN_GRACE_MS: "-1" }, "Invalid environment: SHUTDOWN_GRACE_MS must be 0 or more"],
    [{ SHUTDOWN_GRACE_MS: "2.5" }, "Invalid environment: SHUTDOWN_GRACE_MS must be a whole number"],
  ])("stops at %o with one line naming the variable", (source, message) => {
    expect(() => readEnv(source)).toThrow(message);
  });
});

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
});

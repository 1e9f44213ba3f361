import { describe, expect, it } from "vitest";
import { normalizeBackendUrl, parseBackendUrl } from "./backend-url";
import { cleanText } from "./text";

describe("cleanText", () => {
  it("drops NUL and other control characters but keeps line breaks and tabs", () => {
    expect(cleanText("a\u0000b\u0007c\nd\te")).toBe("abc\nd\te");
  });

  it("replaces an unpaired surrogate and keeps a whole emoji", () => {
    expect(cleanText("x\ud83dy \ud83d\ude00")).toBe("x\ufffdy \ud83d\ude00");
  });

  it("cuts a long text on a code point, never inside an emoji, and marks the cut", () => {
    const cut = cleanText(`${"a".repeat(8)}\ud83d\ude00\ud83d\ude00`, 10);
    expect(cut).toBe(`${"a".repeat(8)}…`);
    expect(/\p{Cs}/u.test(cut)).toBe(false);
  });
});

describe("parseBackendUrl", () => {
  it("moves credentials into a Basic authorization header", () => {
    expect(parseBackendUrl("http://me:p%40ss@gpu-1:7860/")).toEqual({
      baseUrl: "http://gpu-1:7860",
      authorization: `Basic ${Buffer.from("me:p@ss").toString("base64")}`,
    });
  });

  it("keeps a path prefix and has no header without credentials", () => {
    expect(parseBackendUrl("https://host/forge/")).toEqual({ baseUrl: "https://host/forge", authorization: null });
  });

  it("normalises the spellings of one server to one", () => {
    const spellings = ["http://H:7860", "http://h:7860/", "http://user:x@h:7860//"];
    expect(new Set(spellings.map(normalizeBackendUrl))).toEqual(new Set(["http://h:7860"]));
    expect(normalizeBackendUrl("http://h:80/")).toBe("http://h");
  });
});

import { describe, expect, it } from "vitest";
import { submitJobInput } from "./schemas";

const messages = (input: unknown) => submitJobInput.safeParse(input).error?.issues.map((issue) => issue.message) ?? [];

describe("submitJobInput", () => {
  it("says an empty prompt is empty, once, without also calling it blank", () => {
    expect(messages({ prompt: "" })).toEqual(["prompt must not be empty"]);
  });

  it("says a prompt of spaces is blank", () => {
    expect(messages({ prompt: "   " })).toEqual(["prompt must not be blank"]);
  });

  it("says a prompt of only zero-width and other invisible characters is blank", () => {
    for (const prompt of ["\u200b\u200c\u200d", "\u2060\ufeff \u00ad", "\u3164\u2800", "\u200b\n\u200e"]) {
      expect(messages({ prompt }), JSON.stringify(prompt)).toEqual(["prompt must not be blank"]);
    }
    expect(messages({ prompt: "\u200ba fox\u200b" })).toEqual([]);
  });

  it("takes a priority of -10..10 and names it when out of range", () => {
    expect(submitJobInput.parse({ prompt: "x" }).priority).toBe(0);
    expect(messages({ prompt: "x", priority: 11 })).toEqual(["priority must be at most 10"]);
    expect(messages({ prompt: "x", priority: 1.5 })).toEqual(["priority must be a whole number"]);
  });

  it("names every field that is wrong", () => {
    expect(messages({ prompt: "ok", width: 513, steps: 0 })).toEqual([
      "width must be a multiple of 8",
      "steps must be at least 1",
    ]);
  });
});

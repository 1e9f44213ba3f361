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

  it("names every field that is wrong", () => {
    expect(messages({ prompt: "ok", width: 513, steps: 0 })).toEqual([
      "width must be a multiple of 8",
      "steps must be at least 1",
    ]);
  });
});

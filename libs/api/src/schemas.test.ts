import { describe, expect, it } from "vitest";
import {
  createConversationInput,
  jobEventsInput,
  jobIdInput,
  listConversationsInput,
  listJobsInput,
  moveJobInput,
  submitJobInput,
  submitManyInput,
} from "./schemas";

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

  it("says only that a whole number too large to be exact is out of range", () => {
    expect(messages({ prompt: "x", seed: 1e20 })).toEqual(["seed must be at most 4294967295"]);
    expect(messages({ prompt: "x", seed: -1e30 })).toEqual(["seed must be at least -1"]);
    expect(messages({ prompt: "x", seed: 2.5 })).toEqual(["seed must be a whole number"]);
  });

  it("takes callbackUrl null as none, as a Job shows it, and names a callbackUrl that is no URL", () => {
    expect(submitJobInput.parse({ prompt: "x", callbackUrl: null }).callbackUrl).toBeNull();
    expect(submitJobInput.parse({ prompt: "x" }).callbackUrl).toBeUndefined();
    expect(submitJobInput.parse({ prompt: "x", callbackUrl: "https://hooks.example/a" }).callbackUrl).toBe(
      "https://hooks.example/a",
    );
    expect(messages({ prompt: "x", callbackUrl: "nope" })).toEqual(["callbackUrl must be an http or https URL"]);
  });

  it("names every field that is wrong", () => {
    expect(messages({ prompt: "ok", width: 513, steps: 0 })).toEqual([
      "width must be a multiple of 8",
      "steps must be at least 1",
    ]);
  });
});

describe("input objects", () => {
  it("refuse a field they do not know, naming it and the fields there are", () => {
    expect(messages({ prompt: "x", params: { width: 512 } })).toEqual([
      'unknown field "params"; the fields are prompt, negativePrompt, width, height, steps, cfgScale, distilledCfgScale, seed, sampler, scheduler, checkpoint, modules, conversationId, priority, idempotencyKey, callbackUrl',
    ]);
    expect(messages({ prompt: "x", witdh: 512, stpes: 4 })[0]).toMatch(/^unknown fields "witdh", "stpes"; /);
  });

  it("say what they take when the input is no object at all", () => {
    const fields = /^expected an object with the fields prompt, negativePrompt, .*, callbackUrl; got /;
    for (const [input, got] of [
      [5, "a number"],
      [null, "null"],
      [undefined, "nothing \\(a query takes its input as \\?input=<JSON>, a mutation as its JSON body\\)"],
      [["prompt"], "an array"],
      ["prompt", "a string"],
    ] as const) {
      expect(messages(input)).toEqual([expect.stringMatching(fields)]);
      expect(messages(input)[0]).toMatch(new RegExp(`; got ${got}$`));
    }
    const issues = submitManyInput.safeParse({ jobs: [{ prompt: "a" }, null] }).error?.issues;
    expect(issues?.map((issue) => [issue.path.join("."), issue.message])).toEqual([
      ["jobs.1", expect.stringMatching(/^expected an object with the fields prompt, .*; got null$/)],
    ]);
  });

  it("name the job of a batch with the unknown field", () => {
    const issues = submitManyInput.safeParse({ jobs: [{ prompt: "a" }, { prompt: "b", size: 5 }] }).error?.issues;
    expect(issues?.map((issue) => [issue.path.join("."), issue.message.split(";")[0]])).toEqual([
      ["jobs.1", 'unknown field "size"'],
    ]);
  });

  it("say a field that was not given is missing, and what it must be", () => {
    const issues = (
      schema: typeof jobIdInput | typeof listConversationsInput | typeof submitJobInput,
      input: unknown,
    ) => schema.safeParse(input).error?.issues.map((issue) => issue.message);
    expect(issues(submitJobInput, {})).toEqual(["prompt is missing (it must be a string)"]);
    expect(issues(submitJobInput, { prompt: 42 })).toEqual(["prompt must be a string"]);
    expect(issues(jobIdInput, {})).toEqual(["jobId is missing (it must be a UUID)"]);
    expect(issues(jobIdInput, { jobId: "x" })).toEqual(["jobId must be a UUID"]);
    expect(issues(listConversationsInput, {})).toEqual(["limit is missing (it must be a number)"]);
    expect(issues(listConversationsInput, { limit: "5" })).toEqual(["limit must be a number"]);
  });

  it("say an empty status filter of jobs.list names none, where leaving it out means every status", () => {
    expect(listJobsInput.safeParse({ status: [] }).error?.issues[0]?.message).toBe(
      "status must name at least one status; leave it out for jobs of every status",
    );
    expect(listJobsInput.safeParse({ status: ["queued"] }).success).toBe(true);
    expect(listJobsInput.safeParse({}).success).toBe(true);
  });

  it("refuse unknown fields in every procedure's input, and still take the ones they know", () => {
    const id = "6f1c2f86-58b4-4d7c-9b43-3c1a0c0f6f58";
    for (const [schema, good] of [
      [jobIdInput, { jobId: id }],
      [listJobsInput, { limit: 5 }],
      [jobEventsInput, { jobId: id, lastEventId: "12" }],
      [moveJobInput, { jobId: id, to: "front" }],
      [createConversationInput, { title: "t" }],
    ] as const) {
      expect(schema.safeParse(good).success).toBe(true);
      expect(schema.safeParse({ ...good, extra: 1 }).error?.issues[0]?.message).toMatch(/^unknown field "extra"; /);
    }
  });
});

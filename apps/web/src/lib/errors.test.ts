import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { actionFailure, errorCode, errorMessage, fieldErrorsOf, UNREACHABLE } from "./errors";

const trpcError = (code: string, message: string, fields?: string[]) =>
  TRPCClientError.from({
    error: { code: -32600, message, data: { code, httpStatus: 400, ...(fields ? { fields } : {}) } },
  });

describe("fieldErrorsOf", () => {
  it("files each validation message under the field it names, as a sentence", () => {
    const error = trpcError("BAD_REQUEST", "…", ["steps must be at most 150", "width must be a multiple of 8"]);
    expect(fieldErrorsOf(error)).toEqual({
      steps: "Steps must be at most 150",
      width: "Width must be a multiple of 8",
    });
  });

  it("names a field as the form labels it where its name in the API is no word", () => {
    const error = trpcError("BAD_REQUEST", "…", [
      "cfgScale must be at most 30",
      "distilledCfgScale must be at least 0",
      "negativePrompt must be at most 4000 characters",
    ]);
    expect(fieldErrorsOf(error)).toEqual({
      cfgScale: "CFG scale must be at most 30",
      distilledCfgScale: "Distilled CFG must be at least 0",
      negativePrompt: "Negative prompt must be at most 4000 characters",
    });
  });

  it("says in the page's words that an admin's prompt cannot go into another user's conversation", () => {
    const message =
      "conversationId: conversation 0b1e8f52-4c2f-4a4e-9d57-0c5d8f1f2a10 is ann's; a job goes into a conversation of the user who submits it (leave conversationId out to start a new one)";
    expect(fieldErrorsOf(trpcError("BAD_REQUEST", message, [message]))).toEqual({
      form: "This conversation is ann's: your images go into conversations of your own. Start a new conversation for this prompt.",
    });
  });

  it("reads the field from the message when the error has no field list", () => {
    const error = trpcError("BAD_REQUEST", 'checkpoint "nope" is not known to the backend; known: flux1-dev');
    expect(fieldErrorsOf(error).checkpoint).toMatch(/^Checkpoint "nope" is not known/);
  });

  it("keeps a message without a field list whole, under the field it names", () => {
    const message = 'sampler "Eulr" is not known to the backend; known: Euler, DPM++ 2M';
    expect(fieldErrorsOf(trpcError("BAD_REQUEST", message))).toEqual({
      sampler: 'Sampler "Eulr" is not known to the backend; known: Euler, DPM++ 2M',
    });
  });

  it("files a message about one module under modules", () => {
    const error = trpcError("BAD_REQUEST", "…", ['module "vae.pt" is not known to the backend; known: ae']);
    expect(fieldErrorsOf(error)).toEqual({ modules: 'Module "vae.pt" is not known to the backend; known: ae' });
  });

  it("files the server's FORBIDDEN for a raised priority under priority", () => {
    const error = trpcError("FORBIDDEN", "priority above 0 is for admins only");
    expect(fieldErrorsOf(error)).toEqual({ priority: "Priority above 0 is for admins only" });
  });

  it("keeps the limit of waiting jobs (TOO_MANY_REQUESTS) for the form, in the server's words", () => {
    const message = "You have 200 jobs waiting already, the most one user may have; wait for some to start";
    expect(fieldErrorsOf(trpcError("TOO_MANY_REQUESTS", message))).toEqual({ form: message });
  });

  it("keeps a message that names no field for the form", () => {
    expect(fieldErrorsOf(new Error("The database is not reachable right now"))).toEqual({
      form: "The database is not reachable right now",
    });
  });
});

describe("errorCode", () => {
  it("gives the tRPC code of a failed call", () => {
    expect(errorCode(trpcError("CONFLICT", "already complete"))).toBe("CONFLICT");
    expect(errorCode(new Error("plain"))).toBeUndefined();
  });
});

describe("errorMessage", () => {
  it("says in words that the server cannot be reached when a request got no answer", () => {
    expect(errorMessage(TRPCClientError.from(new TypeError("Failed to fetch")))).toBe(UNREACHABLE);
    expect(fieldErrorsOf(TRPCClientError.from(new TypeError("Failed to fetch")))).toEqual({ form: UNREACHABLE });
  });

  it("says so too of @anvil/client's words for it, which name the server and why", () => {
    const worded = new TypeError("Failed to fetch: cannot reach Anvil at this page's server: no answer came", {
      cause: new TypeError("Failed to fetch"),
    });
    expect(errorMessage(TRPCClientError.from(worded))).toBe(UNREACHABLE);
  });

  it("keeps the server's own message", () => {
    expect(errorMessage(trpcError("SERVICE_UNAVAILABLE", "The database is not reachable"))).toBe(
      "The database is not reachable",
    );
  });
});

describe("actionFailure", () => {
  it("says what the job's state forbids, per action", () => {
    const conflict = trpcError("CONFLICT", "Job x is complete");
    expect(actionFailure("cancel", conflict)).toBe("Too late to cancel: this job already finished.");
    expect(actionFailure("move", conflict)).toBe("Too late to move: this job has left the line.");
    expect(actionFailure("retry", conflict)).toBe("Only a failed or cancelled job can be retried.");
  });

  it("says a job is gone for NOT_FOUND, and who may for FORBIDDEN", () => {
    expect(actionFailure("move", trpcError("NOT_FOUND", "Job x not found"))).toMatch(/^This job is gone/);
    expect(actionFailure("move", trpcError("FORBIDDEN", "only an admin may move a job ahead of the whole line"))).toBe(
      "Only an admin may do that: only an admin may move a job ahead of the whole line",
    );
  });
});

import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { errorCode, errorMessage, fieldErrorsOf, UNREACHABLE } from "./errors";

const trpcError = (code: string, message: string, fields?: string[]) =>
  TRPCClientError.from({
    error: { code: -32600, message, data: { code, httpStatus: 400, ...(fields ? { fields } : {}) } },
  });

describe("fieldErrorsOf", () => {
  it("files each validation message under the field it names", () => {
    const error = trpcError("BAD_REQUEST", "…", ["steps must be at most 150", "width must be a multiple of 8"]);
    expect(fieldErrorsOf(error)).toEqual({
      steps: "steps must be at most 150",
      width: "width must be a multiple of 8",
    });
  });

  it("reads the field from the message when the error has no field list", () => {
    const error = trpcError("BAD_REQUEST", 'checkpoint "nope" is not known to the backend; known: flux1-dev');
    expect(fieldErrorsOf(error).checkpoint).toMatch(/^checkpoint "nope" is not known/);
  });

  it("keeps a message without a field list whole, under the field it names", () => {
    const message = 'sampler "Eulr" is not known to the backend; known: Euler, DPM++ 2M';
    expect(fieldErrorsOf(trpcError("BAD_REQUEST", message))).toEqual({ sampler: message });
  });

  it("files a message about one module under modules", () => {
    const error = trpcError("BAD_REQUEST", "…", ['module "vae.pt" is not known to the backend; known: ae']);
    expect(fieldErrorsOf(error)).toEqual({ modules: 'module "vae.pt" is not known to the backend; known: ae' });
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

  it("keeps the server's own message", () => {
    expect(errorMessage(trpcError("SERVICE_UNAVAILABLE", "The database is not reachable"))).toBe(
      "The database is not reachable",
    );
  });
});

import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { isTransient } from "../transient";
import { checkUrl, classify, CliFailure, EXIT, withoutCredentials } from "./exit-codes";

/** A procedure's refusal, as tRPC answers it: its data names the procedure. */
const trpcError = (code: string) =>
  TRPCClientError.from({
    error: { message: `${code} happened`, code: -32600, data: { code, httpStatus: 400, path: "jobs.get" } },
  });

const env = { url: "u", token: undefined };

/** A refusal the server makes itself, before any procedure: tRPC's shape, naming no procedure. */
const serverRefusal = (code: string, httpStatus: number, message: string) =>
  TRPCClientError.from({ error: { message, code: -32000, data: { code, httpStatus } } });

describe("classify", () => {
  it("maps a refused connection, however deep in the causes, to 3", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    const error = new TRPCClientError("fetch failed", { cause: new TypeError("fetch failed", { cause: refused }) });
    expect(classify(error, { url: "http://127.0.0.1:9", token: undefined })).toMatchObject({
      code: EXIT.unreachable,
      message:
        "Cannot reach Anvil at http://127.0.0.1:9: nothing answers there (is the server running, and is that its address?) (ANVIL_URL sets it)",
    });
  });

  it("says why no answer came: a name that does not resolve, a host that does not answer, a connection that broke", () => {
    const failed = (code: string) =>
      new TRPCClientError("fetch failed", {
        cause: new TypeError("fetch failed", { cause: Object.assign(new Error(code), { code }) }),
      });
    const why = (code: string) => classify(failed(code), { url: "http://anvil.example", token: undefined }).message;
    expect(why("ENOTFOUND")).toBe(
      "Cannot reach Anvil at http://anvil.example: its host name does not resolve (ANVIL_URL sets it)",
    );
    expect(why("ETIMEDOUT")).toMatch(/: its host does not answer /);
    expect(why("UND_ERR_SOCKET")).toMatch(/: the connection broke \(a server restarting, or the network\) /);
    const blocked = new TRPCClientError("fetch failed", {
      cause: new TypeError("fetch failed", { cause: new Error("bad port") }),
    });
    expect(classify(blocked, { url: "http://127.0.0.1:9", token: undefined }).message).toMatch(
      /^Cannot reach Anvil at http:\/\/127.0.0.1:9: fetch never connects to that port /,
    );
    expect(classify(new TypeError("fetch failed"), { url: "u", token: undefined }).message).toBe(
      "Cannot reach Anvil at u: no answer came (ANVIL_URL sets it)",
    );
  });

  it("maps an https:// address whose server answers in plain HTTP to 2, saying so: no retry can mend it", () => {
    const notTls = Object.assign(new Error("ssl3_get_record:wrong version number"), {
      code: "ERR_SSL_WRONG_VERSION_NUMBER",
    });
    const error = new TRPCClientError("fetch failed", { cause: new TypeError("fetch failed", { cause: notTls }) });
    expect(classify(error, { url: "https://127.0.0.1:3000", token: undefined })).toMatchObject({
      code: EXIT.usage,
      message:
        "The server at ANVIL_URL (https://127.0.0.1:3000) does not speak TLS: it answers https:// in plain HTTP " +
        "(is its address http://?)",
    });
    expect(isTransient(error)).toBe(false);
  });

  it("maps BAD_REQUEST to 2, SERVICE_UNAVAILABLE to 3 and other refusals to 1", () => {
    expect(classify(trpcError("BAD_REQUEST"), env).code).toBe(EXIT.usage);
    expect(classify(trpcError("SERVICE_UNAVAILABLE"), env).code).toBe(EXIT.unreachable);
    expect(classify(trpcError("NOT_FOUND"), env)).toMatchObject({ code: EXIT.failed, message: "NOT_FOUND happened" });
  });

  it("maps a NOT_FOUND that names no procedure to 2, naming ANVIL_URL: the server's own, for a path not its API's", () => {
    // ANVIL_URL=http://host:3000/anvil/: the command asks for /anvil/trpc/queue.status.
    const error = serverRefusal(
      "NOT_FOUND",
      404,
      "No such path /anvil/trpc/queue.status: the API is under /trpc/<procedure>",
    );
    const failure = classify(error, { url: "http://127.0.0.1:3000/anvil/", token: undefined });
    expect(failure.code).toBe(EXIT.usage);
    expect(failure.message).toBe(
      "The server at ANVIL_URL (http://127.0.0.1:3000/anvil/) does not answer as Anvil: No such path " +
        "/anvil/trpc/queue.status: the API is under /trpc/<procedure> (is the path in ANVIL_URL right?)",
    );
  });

  it("maps METHOD_NOT_SUPPORTED to 2, naming ANVIL_URL: the command only sends the right methods, so its path is wrong", () => {
    // ANVIL_URL=http://host:3000/foo: the web app under /foo answers a POST with tRPC's 405 shape.
    const error = serverRefusal("METHOD_NOT_SUPPORTED", 405, "POST is not a way to read a page: use GET");
    const failure = classify(error, { url: "http://127.0.0.1:3000/foo", token: undefined });
    expect(failure.code).toBe(EXIT.usage);
    expect(failure.message).toContain("ANVIL_URL (http://127.0.0.1:3000/foo)");
  });

  it("names the command's options where the server's refusal names the API's fields", () => {
    const refusal = (message: string) =>
      TRPCClientError.from({ error: { message, code: -32600, data: { code: "BAD_REQUEST", httpStatus: 400 } } });
    expect(classify(refusal("idempotencyKey must not be empty"), env).message).toBe("--key must not be empty");
    expect(
      classify(refusal("cfgScale must be at most 30; conversationId must be a UUID; prompt must not be empty"), env)
        .message,
    ).toBe("--cfg-scale must be at most 30; --conversation must be a UUID; prompt must not be empty");
    expect(classify(refusal("sampler: unknown; known: Euler"), env).message).toBe("--sampler: unknown; known: Euler");
    expect(classify(refusal("jobId must be a UUID"), env).message).toBe("the job id must be a UUID");
  });

  it("keeps a CliFailure as it is", () => {
    const failure = new CliFailure("job failed", EXIT.failed);
    expect(classify(failure, env)).toBe(failure);
  });
});

describe("withoutCredentials", () => {
  it("leaves out a user name and password, also from an address that does not parse", () => {
    expect(withoutCredentials("http://me:s3cret@127.0.0.1:3000/anvil")).toBe("http://127.0.0.1:3000/anvil");
    expect(withoutCredentials("http://me:s3cret@127.0.0.1:99999/anvil")).toBe("http://127.0.0.1:99999/anvil");
    expect(withoutCredentials("http://127.0.0.1:3000")).toBe("http://127.0.0.1:3000");
  });
});

describe("checkUrl", () => {
  it("takes the server's address with a path or a trailing slash as it is", () => {
    for (const url of ["http://127.0.0.1:3000", "http://127.0.0.1:3000/", "https://tools.example/anvil/"]) {
      expect(checkUrl(url)).toBe(url);
    }
  });

  it("refuses a ?query or #fragment, which every call's path would go after, as bad usage", () => {
    for (const url of ["http://127.0.0.1:3000?x=1", "http://127.0.0.1:3000/#top", "http://127.0.0.1:3000?"]) {
      let refused: unknown;
      try {
        checkUrl(url);
      } catch (error) {
        refused = error;
      }
      expect(refused, url).toBeInstanceOf(CliFailure);
      expect(refused).toMatchObject({
        code: EXIT.usage,
        message: `ANVIL_URL must be the server's address without a ?query or #fragment (it is "${url}")`,
      });
    }
  });
});

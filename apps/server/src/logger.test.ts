import { ForgeError } from "@anvil/forge-client";
import { BackendLost, DEFAULT_JOB_PARAMS } from "@anvil/job-machine";
import type { GenerateRequest, Job } from "@anvil/job-machine";
import { DrizzleQueryError } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createLogger, formatLine, logObserver } from "./logger";

const capture = () => {
  const lines: string[] = [];
  return { lines, destination: { write: (line: string) => void lines.push(line) } };
};

describe("createLogger", () => {
  it("writes one JSON line per entry when not pretty", () => {
    const { lines, destination } = capture();
    createLogger({ level: "info", pretty: false, destination }).info(
      { jobId: "j1", from: "queued" },
      "job queued → processing",
    );
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 30,
      service: "anvil",
      jobId: "j1",
      msg: "job queued → processing",
    });
  });

  it("writes `HH:MM:SS LEVEL message key=value` when pretty", () => {
    const { lines, destination } = capture();
    createLogger({ level: "info", pretty: true, destination }).info(
      { jobId: "j1", queuedMs: 12, note: "two words" },
      "job queued → processing",
    );
    expect(lines[0]).toMatch(
      /^\d{2}:\d{2}:\d{2} INFO {2}job queued → processing jobId=j1 queuedMs=12 note="two words"\n$/,
    );
  });

  it("drops entries below the level", () => {
    const { lines, destination } = capture();
    const logger = createLogger({ level: "warn", pretty: false, destination });
    logger.info("not shown");
    logger.warn("shown");
    expect(lines.map((line) => JSON.parse(line).msg)).toEqual(["shown"]);
  });
});

describe("logObserver", () => {
  const request: GenerateRequest = { jobId: "j1", prompt: "p", params: DEFAULT_JOB_PARAMS, attempt: 1, backend: 0 };
  const failureLine = (error: Parameters<NonNullable<ReturnType<typeof logObserver>["generationFailed"]>>[1]) => {
    const { lines, destination } = capture();
    logObserver(createLogger({ level: "info", pretty: false, destination }), ["http://gpu:7860"]).generationFailed?.(
      request,
      error,
    );
    return JSON.parse(lines[0]!) as Record<string, unknown> & { err: { message: string } };
  };

  it("gives how long a job queued before its first run, and only the time since it was submitted after that", () => {
    const { lines, destination } = capture();
    const observer = logObserver(createLogger({ level: "info", pretty: false, destination }), ["http://gpu:7860"]);
    const started = (attempt: number, startedAt: string) =>
      observer.transition?.({ jobId: "j1", from: "queued", to: "processing", backend: 0, attempt }, {
        createdAt: "2026-12-05T10:00:00.000Z",
        startedAt,
        finishedAt: null,
        attempt,
        error: null,
      } as Job);
    started(1, "2026-12-05T10:00:02.000Z");
    started(2, "2026-12-05T10:00:30.000Z");
    const [first, again] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(first).toMatchObject({ attempt: 1, queuedMs: 2_000 });
    expect(again).toMatchObject({ attempt: 2, sinceSubmittedMs: 30_000 });
    expect(again).not.toHaveProperty("queuedMs");
  });

  it("logs Forge's error once, with its reply beside it rather than repeated in the message", () => {
    const reply = { error: "OutOfMemoryError", message: "CUDA out of memory. Tried to allocate 2.00 GiB" };
    const line = failureLine(
      new ForgeError({
        reason: "OutOfMemory",
        message: `Forge ran out of GPU memory: ${reply.message}`,
        backendUrl: "http://gpu:7860",
        cause: reply,
      }),
    );
    expect(line).toMatchObject({ reason: "OutOfMemory", backend: "http://gpu:7860", forgeReply: reply });
    expect(line.err).toMatchObject({ type: "ForgeError" });
    expect(line.err.message).toBe("Forge ran out of GPU memory: CUDA out of memory. Tried to allocate 2.00 GiB");
    expect(line["msg"]).toBe(
      "backend error (OutOfMemory): Forge ran out of GPU memory: CUDA out of memory. Tried to allocate 2.00 GiB",
    );
  });

  it("names a lost backend as such, not as an unknown error, and without a stack trace: it is expected", () => {
    const line = failureLine(new BackendLost("Lost the connection to Forge at http://gpu:7860"));
    expect(line).toMatchObject({
      reason: "BackendLost",
      msg: "backend error (BackendLost): Lost the connection to Forge at http://gpu:7860",
    });
    expect(line).not.toHaveProperty("err");
  });

  it("logs a failed database call in its driver's words, without the statement's parameters (a prompt, an image)", () => {
    const { lines, destination } = capture();
    const image = "iVBORw0KGgo".padEnd(100_000, "A");
    const driver = Object.assign(new Error("could not extend file: No space left on device"), { code: "53100" });
    const query = new DrizzleQueryError("select anvil_store_image($1, $2)", ["a secret prompt", image], driver);
    const logger = createLogger({ level: "info", pretty: false, destination });
    logger.error({ err: query }, "procedure failed");
    logger.warn(
      {
        err: Object.assign(new Error("The image could not be saved on the server", { cause: query }), {
          code: "E_IMG",
        }),
      },
      "backend error",
    );
    for (const line of lines) {
      expect(line.length).toBeLessThan(2_000);
      expect(line).not.toContain("a secret prompt");
      expect(line).not.toContain("iVBORw0KGgo");
    }
    const [direct, wrapped] = lines.map(
      (line) => JSON.parse(line) as { err: { message: string; stack: string; code?: string } },
    );
    // The error's own fields stay.
    expect(wrapped?.err).not.toHaveProperty("params");
    expect(direct?.err.message).toBe("could not extend file: No space left on device (53100)");
    expect(wrapped?.err.message).toBe(
      "The image could not be saved on the server (E_IMG): could not extend file: No space left on device (53100)",
    );
    expect(wrapped?.err.code).toBe("E_IMG");
    expect(wrapped?.err.stack).toMatch(/^Error: The image could not be saved on the server \(E_IMG\): .+\n\s+at /);
    // Any other error as pino writes it.
    logger.error({ err: Object.assign(new Error("boom"), { code: "E_BOOM" }) }, "procedure failed");
    expect(JSON.parse(lines[2]!)).toMatchObject({ err: { type: "Error", message: "boom", code: "E_BOOM" } });
  });
});

describe("formatLine", () => {
  it("shows an error's type and message, and its stack for errors", () => {
    const line = JSON.stringify({
      level: 50,
      time: Date.now(),
      msg: "procedure failed",
      err: { type: "Error", message: "boom", stack: "Error: boom\n    at here" },
    });
    const formatted = formatLine(line);
    expect(formatted).toContain('ERROR procedure failed err="Error: boom"');
    expect(formatted).toContain("\n    Error: boom\n        at here");
  });

  it("passes a line that is not JSON through unchanged", () => {
    expect(formatLine("plain text\n")).toBe("plain text\n");
  });
});

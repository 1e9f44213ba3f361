import { describe, expect, it } from "vitest";
import { createLogger, formatLine } from "./logger";

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

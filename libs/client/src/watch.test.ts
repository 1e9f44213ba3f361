import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import type { AnvilTRPCClient } from "./create-client";
import { watchJob } from "./watch";

/** A client whose job stream fails at once with `error`, every time it is opened. */
const failingWith = (error: unknown) =>
  ({
    jobs: {
      events: {
        subscribe: (_input: unknown, handlers: { onError: (error: unknown) => void }) => {
          queueMicrotask(() => handlers.onError(error));
          return { unsubscribe: () => undefined };
        },
      },
    },
  }) as unknown as AnvilTRPCClient;

/** The errors `onReconnect` is told for the first two attempts to open a stream that fails with `error`. */
const toldFor = async (error: unknown) => {
  const told: unknown[] = [];
  const stop = new AbortController();
  const watching = (async () => {
    for await (const _ of watchJob(failingWith(error), "a-job", {
      signal: stop.signal,
      retryDelayMs: () => 0,
      onReconnect: (why) => {
        told.push(why);
        if (told.length === 2) stop.abort();
      },
    })) {
      // No snapshot comes.
    }
  })();
  await watching;
  return told;
};

describe("watchJob's onReconnect", () => {
  it("passes on an error the server answered with a code, as it came", async () => {
    const unavailable = TRPCClientError.from({
      error: {
        message: "The database does not answer; try again in a moment",
        code: -32603,
        data: { code: "SERVICE_UNAVAILABLE", httpStatus: 503 },
      },
    });
    const told = await toldFor(unavailable);
    expect(told).toEqual([unavailable, unavailable]);
  });

  it("says in words that a stream dropped where its own error says only 'Unknown error'", async () => {
    const told = await toldFor(new TRPCClientError("Unknown error"));
    expect(told).toHaveLength(2);
    expect((told[0] as Error).message).toMatch(/^the job's event stream dropped: .*reopened by itself/);
    expect((told[0] as Error).cause).toBeInstanceOf(TRPCClientError);
  });
});

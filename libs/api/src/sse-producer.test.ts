import { TRPCError, tracked } from "@trpc/server";
import { sseStreamProducer } from "@trpc/server/unstable-core-do-not-import";
import { describe, expect, it } from "vitest";

/**
 * Anvil carries a patch of tRPC's Server-Sent Events producer (patches/@trpc+server+11.25.2.patch: one encoded
 * chunk per event from native generators, and a keep-alive ping that does not race a timer per event). These pin
 * down the wire format and behaviour the patch must keep: what tRPC's own `httpSubscriptionLink` reads.
 */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  return text;
}

const later = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe("the patched tRPC SSE producer", () => {
  it("sends connected, each event with its id, and return, one chunk per event", async () => {
    async function* data() {
      yield tracked("1", { n: 1 });
      yield tracked("2", { n: 2 });
    }
    const stream = sseStreamProducer({ data: data(), client: { reconnectAfterInactivityMs: 25_000 } });
    const chunks: string[] = [];
    const decoder = new TextDecoder();
    for await (const chunk of stream) chunks.push(decoder.decode(chunk));
    expect(chunks).toEqual([
      'event: connected\ndata: {"reconnectAfterInactivityMs":25000}\n\n\n',
      'data: {"n":1}\nid: 1\n\n\n',
      'data: {"n":2}\nid: 2\n\n\n',
      "event: return\ndata: \n\n\n",
    ]);
  });

  it("pings while the source is quiet and still delivers what comes after", async () => {
    async function* data() {
      yield await later(120, tracked("7", "late"));
    }
    const text = await readAll(sseStreamProducer({ data: data(), ping: { enabled: true, intervalMs: 20 } }));
    const pings = text.split("event: ping\n").length - 1;
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(text).toContain('data: "late"\nid: 7\n');
    expect(text.endsWith("event: return\ndata: \n\n\n")).toBe(true);
  });

  it("restores the last id after an untracked event", async () => {
    async function* data() {
      yield tracked("3", "a");
      yield "b";
    }
    const text = await readAll(sseStreamProducer({ data: data() }));
    expect(text).toContain('data: "b"\nid: \n\n\nevent: restore-id\ndata: \nid: 3\n');
  });

  it("sends a source's error as a serialized error, formatted", async () => {
    async function* data(): AsyncGenerator<string> {
      yield "first";
      throw new TRPCError({ code: "NOT_FOUND", message: "gone" });
    }
    const text = await readAll(
      sseStreamProducer({
        data: data(),
        ping: { enabled: true, intervalMs: 1_000 },
        formatError: ({ error }) => (error instanceof TRPCError ? { code: error.code, message: error.message } : null),
      }),
    );
    expect(text).toContain('event: serialized-error\ndata: {"code":"NOT_FOUND","message":"gone"}\n');
    expect(text).not.toContain("event: return");
  });

  it("ends the source (its finally runs) when the reader cancels", async () => {
    let ended = false;
    let release!: (value: string) => void;
    const held = new Promise<string>((resolve) => (release = resolve));
    async function* data() {
      try {
        yield "one";
        yield await held;
        yield "never read";
      } finally {
        ended = true;
      }
    }
    const stream = sseStreamProducer({ data: data(), ping: { enabled: true, intervalMs: 10 } });
    const reader = stream.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("event: connected");
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('data: "one"');
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("event: ping");
    const cancelled = reader.cancel();
    // A source suspended in an await is ended once that await settles (as with the unpatched producer; Anvil's
    // own sources wake on the request's abort signal).
    release("two");
    await cancelled;
    await expect.poll(() => ended).toBe(true);
  });
});

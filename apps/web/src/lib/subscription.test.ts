import { TRPCClientError } from "@trpc/client";
import { createRoot, createSignal } from "solid-js";
import { describe, expect, it, vi } from "vitest";
import { createSubscription } from "./subscription";
import type { SubscriptionHandlers } from "./subscription";

type Input = { conversationId?: string };

/** A stand-in for `trpc.jobs.events.subscribe` that records every opening and lets the test drive it. */
function fakeStream() {
  const opened: { input: Input & { lastEventId?: string }; handlers: SubscriptionHandlers<string>; closed: boolean }[] =
    [];
  const subscribe = (input: Input & { lastEventId?: string }, handlers: SubscriptionHandlers<string>) => {
    const entry = { input, handlers, closed: false };
    opened.push(entry);
    return { unsubscribe: () => void (entry.closed = true) };
  };
  const last = () => {
    const entry = opened.at(-1);
    if (!entry) throw new Error("the stream was never opened");
    return entry;
  };
  return { opened, subscribe, last };
}

const historyGone = () =>
  TRPCClientError.from({ error: { code: -32012, message: "gone", data: { code: "PRECONDITION_FAILED" } } });

/** Runs the primitive in its own reactive root, as a component would; effects have run once this returns. */
function mount(
  options: Omit<Parameters<typeof createSubscription<Input, string>>[0], "subscribe">,
  stream = fakeStream(),
) {
  const { sub, dispose } = createRoot((dispose) => ({
    sub: createSubscription<Input, string>({ ...options, subscribe: stream.subscribe }),
    dispose,
  }));
  return { sub, dispose, stream };
}

describe("createSubscription", () => {
  it("resumes from the saved event id and reports live once started", () => {
    const { sub, stream, dispose } = mount({
      input: () => ({ conversationId: "c1" }),
      onData: () => undefined,
      resumeFrom: () => "41",
    });
    expect(stream.last().input).toEqual({ conversationId: "c1", lastEventId: "41" });
    expect(sub.state()).toBe("connecting");
    stream.last().handlers.onStarted();
    expect(sub.state()).toBe("live");
    dispose();
  });

  it("hands over each event with its id and unsubscribes when its owner is disposed", () => {
    const seen: string[] = [];
    const { sub, stream, dispose } = mount({ input: () => ({}), onData: (data, id) => seen.push(`${id}:${data}`) });
    stream.last().handlers.onData({ id: "42", data: "a" });
    stream.last().handlers.onData({ id: "42.1", data: "b" });
    expect(seen).toEqual(["42:a", "42.1:b"]);
    expect(sub.lastEventId()).toBe("42.1");
    dispose();
    expect(stream.last().closed).toBe(true);
  });

  it("reopens the stream when the input changes", () => {
    const [id, setId] = createSignal("c1");
    const { stream, dispose } = mount({ input: () => ({ conversationId: id() }), onData: () => undefined });
    setId("c2");
    expect(stream.opened.map((o) => [o.input.conversationId, o.closed])).toEqual([
      ["c1", true],
      ["c2", false],
    ]);
    dispose();
  });

  it("reconnects by itself from the last event id after an error, saying so meanwhile", async () => {
    vi.useFakeTimers();
    const { sub, stream, dispose } = mount({ input: () => ({}), onData: () => undefined, retryDelayMs: () => 1000 });
    stream.last().handlers.onData({ id: "7", data: "x" });
    stream.last().handlers.onError(new Error("network"));
    expect(sub.state()).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(999);
    expect(stream.opened).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(stream.opened).toHaveLength(2);
    expect(stream.last().input.lastEventId).toBe("7");
    dispose();
    vi.useRealTimers();
  });

  it("reconnects from the last event id when the server ends the stream cleanly, and says it ended", async () => {
    vi.useFakeTimers();
    let ended = 0;
    const { sub, stream, dispose } = mount({
      input: () => ({}),
      onData: () => undefined,
      onEnded: () => void ended++,
      retryDelayMs: () => 1000,
    });
    stream.last().handlers.onStarted();
    stream.last().handlers.onData({ id: "9", data: "x" });
    stream.last().handlers.onComplete();
    expect(ended).toBe(1);
    expect(sub.state()).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(1000);
    expect(stream.opened).toHaveLength(2);
    expect(stream.last().input.lastEventId).toBe("9");
    dispose();
    vi.useRealTimers();
  });

  it("reloads and resubscribes without an event id when the history is gone", async () => {
    vi.useFakeTimers();
    const onHistoryGone = vi.fn();
    const { stream, dispose } = mount({
      input: () => ({ conversationId: "c1" }),
      onData: () => undefined,
      resumeFrom: () => "3",
      onHistoryGone,
    });
    stream.last().handlers.onError(historyGone());
    await vi.advanceTimersByTimeAsync(0);
    expect(onHistoryGone).toHaveBeenCalledTimes(1);
    expect(stream.opened).toHaveLength(2);
    expect(stream.last().input).toEqual({ conversationId: "c1" });
    dispose();
    vi.useRealTimers();
  });

  it("says it is reconnecting as soon as the browser goes offline, and live again once back if the stream lasted", () => {
    const { sub, stream, dispose } = mount({ input: () => ({}), onData: () => undefined });
    stream.last().handlers.onStarted();
    expect(sub.state()).toBe("live");

    window.dispatchEvent(new Event("offline"));
    expect(sub.state()).toBe("reconnecting");
    window.dispatchEvent(new Event("online"));
    expect(sub.state()).toBe("live");

    // Offline long enough for the connection to fail: back online, the stream's own reconnection says how it stands.
    window.dispatchEvent(new Event("offline"));
    stream.last().handlers.onConnectionStateChange({ state: "connecting", error: new Error("closed") });
    window.dispatchEvent(new Event("online"));
    expect(sub.state()).toBe("reconnecting");
    stream.last().handlers.onConnectionStateChange({ state: "pending", error: null });
    expect(sub.state()).toBe("live");
    dispose();
  });

  it("ignores callbacks from a stream it has already closed", () => {
    const seen: string[] = [];
    const [id, setId] = createSignal("c1");
    const { stream, dispose } = mount({ input: () => ({ conversationId: id() }), onData: (data) => seen.push(data) });
    const first = stream.last();
    setId("c2");
    first.handlers.onData({ id: "1", data: "late" });
    expect(seen).toEqual([]);
    dispose();
  });

  it("stays live across a switch to another input whose stream opens promptly, and says which one has started", async () => {
    vi.useFakeTimers();
    const [id, setId] = createSignal("c1");
    const { sub, stream, dispose } = mount({ input: () => ({ conversationId: id() }), onData: () => undefined });
    expect(sub.started()).toBeNull();
    stream.last().handlers.onStarted();
    expect(sub.state()).toBe("live");
    expect(sub.started()).toEqual({ conversationId: "c1" });

    // Switching conversations is not losing the connection: no "Connecting…" for a screen reader to read out.
    setId("c2");
    expect(sub.state()).toBe("live");
    expect(sub.started()).toBeNull();
    await vi.advanceTimersByTimeAsync(300);
    stream.last().handlers.onStarted();
    expect(sub.started()).toEqual({ conversationId: "c2" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(sub.state()).toBe("live");
    dispose();
    vi.useRealTimers();
  });

  it("says it is connecting once a switched stream has not opened within a second, and reconnecting if it fails", async () => {
    vi.useFakeTimers();
    const [id, setId] = createSignal("c1");
    const { sub, stream, dispose } = mount({
      input: () => ({ conversationId: id() }),
      onData: () => undefined,
      retryDelayMs: () => 10_000,
    });
    stream.last().handlers.onStarted();
    setId("c2");
    await vi.advanceTimersByTimeAsync(999);
    expect(sub.state()).toBe("live");
    await vi.advanceTimersByTimeAsync(1);
    expect(sub.state()).toBe("connecting");
    stream.last().handlers.onStarted();
    expect(sub.state()).toBe("live");

    setId("c3");
    stream.last().handlers.onError(new Error("network"));
    expect(sub.state()).toBe("reconnecting");
    expect(sub.started()).toBeNull();
    dispose();
    vi.useRealTimers();
  });
});

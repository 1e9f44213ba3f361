import { TooMany } from "./errors";

/**
 * How many subscriptions one connection carries at once: a WebSocket connection gets one of these in its context,
 * so that one client cannot open thousands of streams on one socket (each costs the server memory and a share of
 * every event). Server-Sent Events need none: each stream is its own HTTP request.
 */
export class SubscriptionSlots {
  private open = 0;

  constructor(readonly max: number) {}

  /** Takes a slot for one subscription; the returned function gives it back (once). Over the limit: TooMany. */
  take(): () => void {
    if (this.open >= this.max) {
      throw new TooMany({
        message: `This connection already carries ${this.max} subscriptions, the most one WebSocket connection may; end one or open another connection`,
      });
    }
    this.open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.open--;
    };
  }

  /** How many subscriptions are open on this connection. */
  get size(): number {
    return this.open;
  }
}

/** Runs `stream` in a slot of `slots` (when the connection has any), given back when the stream ends, however it ends. */
export async function* inSlot<T>(
  slots: SubscriptionSlots | undefined,
  stream: () => AsyncGenerator<T>,
): AsyncGenerator<T> {
  const release = slots?.take();
  try {
    yield* stream();
  } finally {
    release?.();
  }
}

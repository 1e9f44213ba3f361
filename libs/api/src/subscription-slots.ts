import { Allowance } from "./allowance";

/**
 * How many subscriptions one connection carries at once: a WebSocket connection gets one of these in its context,
 * so that one client cannot open thousands of streams on one socket (each costs the server memory and a share of
 * every event). Server-Sent Events need none: each stream is its own HTTP request.
 */
export class SubscriptionSlots extends Allowance {
  protected refusal(): string {
    return `This connection already carries ${this.max} subscriptions, the most one WebSocket connection may; end one or open another connection`;
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

import type { FanOut } from "./fan-out";

/**
 * A FIFO that an async loop can wait on, with a deadline and an abort signal. The signal is listened to once for
 * the inbox's life, not once per wait: a crowd of subscribers each waiting again after every message would
 * otherwise add and remove an abort listener per message. With a {@link FanOut}, a push wakes the reader in the
 * fan-out's turn instead of at once.
 */
export class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;
  private wakeAsked = false;

  constructor(
    private readonly signal?: AbortSignal,
    private readonly fanOut?: FanOut,
  ) {
    signal?.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  /** Adds an item and wakes the waiting reader. */
  push(item: T): void {
    this.items.push(item);
    this.wakeUp();
  }

  /** Wakes the waiting reader without an item (it has something else to look at, e.g. a deadline to set). */
  wakeUp(): void {
    if (!this.fanOut) return this.wake?.();
    if (this.wakeAsked || !this.wake) return;
    this.wakeAsked = true;
    this.fanOut.wake(() => {
      this.wakeAsked = false;
      this.wake?.();
    });
  }

  /** The next item, or undefined when `timeoutMs` passes or the signal aborts first. */
  async next(timeoutMs?: number): Promise<T | undefined> {
    if (this.items.length > 0) return this.items.shift();
    if (this.signal?.aborted) return undefined;
    await new Promise<void>((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.wake?.(), timeoutMs);
      this.wake = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
    return this.items.shift();
  }
}

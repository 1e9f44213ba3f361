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
  private full = false;

  /**
   * `limit`: at most this many unread items. One more and the inbox overflows: it drops what it holds and takes
   * nothing more, so a reader that stopped reading (a stream whose client reads nothing, its socket full) holds
   * no more than that.
   */
  constructor(
    private readonly signal?: AbortSignal,
    private readonly fanOut?: FanOut,
    private readonly limit = Number.POSITIVE_INFINITY,
  ) {
    signal?.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  /** Whether more items came than `limit` while unread: some are lost, and the reader must start again. */
  get overflowed(): boolean {
    return this.full;
  }

  /** Adds an item and wakes the waiting reader. */
  push(item: T): void {
    if (this.full) return;
    if (this.items.length >= this.limit) {
      this.full = true;
      this.items.length = 0;
    } else {
      this.items.push(item);
    }
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
    if (this.signal?.aborted || this.full) return undefined;
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

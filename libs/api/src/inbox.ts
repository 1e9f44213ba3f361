/**
 * A FIFO that an async loop can wait on, with a deadline and an abort signal. The signal is listened to once for
 * the inbox's life, not once per wait: a crowd of subscribers each waiting again after every message would
 * otherwise add and remove an abort listener per message.
 */
export class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  /** Adds an item and wakes the waiting reader. */
  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  /** Wakes the waiting reader without an item (it has something else to look at, e.g. a deadline to set). */
  wakeUp(): void {
    this.wake?.();
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

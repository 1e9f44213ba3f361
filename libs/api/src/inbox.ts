/** A FIFO that an async loop can wait on, with a deadline and an abort signal. */
export class Inbox<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | null = null;

  /** Adds an item and wakes the waiting reader. */
  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  /** Wakes the waiting reader without an item (it has something else to look at, e.g. a deadline to set). */
  wakeUp(): void {
    this.wake?.();
  }

  /** The next item, or undefined when `timeoutMs` passes or `signal` aborts first. */
  async next(signal: AbortSignal | undefined, timeoutMs?: number): Promise<T | undefined> {
    if (this.items.length > 0) return this.items.shift();
    if (signal?.aborted) return undefined;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        this.wake = null;
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done);
      this.wake = done;
    });
    return this.items.shift();
  }
}

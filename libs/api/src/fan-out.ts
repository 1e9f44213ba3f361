/**
 * Wakes waiting readers a slice at a time, one slice per turn of the event loop. A change of the line wakes every
 * subscriber at once; woken together, the thousand of them run (and write) in one turn, and a request that arrives
 * meanwhile waits for all of them. In slices, requests are read between two slices: a `queue.status` waits for one
 * slice, not for the crowd. Each reader's own order is untouched (what it reads waits in its own inbox).
 */
export class FanOut {
  private queue: (() => void)[] = [];
  private next = 0;
  private scheduled = false;

  /** `slice`: how many readers are woken per turn. */
  constructor(private readonly slice = 32) {}

  /** Runs `wake` in a coming turn, after the ones asked before it. */
  wake(wake: () => void): void {
    this.queue.push(wake);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.run);
  }

  private readonly run = (): void => {
    // Indexed in place: this runs once per slice of every change of the line, and a copy of the slice would be
    // garbage each time.
    const end = Math.min(this.queue.length, this.next + this.slice);
    while (this.next < end) this.queue[this.next++]?.();
    if (this.next < this.queue.length) {
      setImmediate(this.run);
      return;
    }
    this.queue = [];
    this.next = 0;
    this.scheduled = false;
  };
}

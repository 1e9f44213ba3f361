/**
 * The time each backend spent running jobs, for the metrics: per backend, the union of its jobs' spans on it. The
 * next job starts on a GPU as soon as Forge is done with the last one, before the last one's end (its image kept) is
 * published, so a start closes the span before it on that backend, and that job's end, when it comes, adds nothing.
 */
export class GpuBusyTime {
  private readonly done: number[];
  private readonly running: ({ jobId: string; since: number } | null)[];

  constructor(backends: number) {
    this.done = Array.from({ length: backends }, () => 0);
    this.running = Array.from({ length: backends }, () => null);
  }

  /** Job `jobId` got backend `backend` at `at` (epoch ms). */
  started(backend: number, jobId: string, at: number): void {
    if (!this.has(backend)) return;
    this.close(backend, at);
    this.running[backend] = { jobId, since: at };
  }

  /** Job `jobId` left backend `backend` at `at`: it ended, or went back to the line. */
  ended(backend: number, jobId: string, at: number): void {
    if (!this.has(backend) || this.running[backend]?.jobId !== jobId) return;
    this.close(backend, at);
  }

  /** Seconds per backend until `now`, the running jobs' shares included. */
  seconds(now: number): number[] {
    return this.done.map((done, i) => done + Math.max(0, now - (this.running[i]?.since ?? now)) / 1000);
  }

  private has(backend: number): boolean {
    return Number.isInteger(backend) && backend >= 0 && backend < this.done.length;
  }

  private close(backend: number, at: number): void {
    const span = this.running[backend];
    if (!span) return;
    this.done[backend] = (this.done[backend] ?? 0) + Math.max(0, at - span.since) / 1000;
    this.running[backend] = null;
  }
}

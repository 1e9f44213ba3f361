/** What {@link FailedLogins} allows. */
export interface FailedLoginsOptions {
  /** Failures one address may have within `windowMs` before it is refused. */
  limit: number;
  windowMs: number;
  /** Time is a dependency: tests move it by hand. */
  now?: () => number;
}

/**
 * Failed sign-ins per client address (a wrong token at /auth/login or as a Bearer header): past `limit` within
 * `windowMs`, every attempt from that address is refused until the window has moved on, right or wrong, so that
 * guessing learns nothing. Counts are this server's, and what it {@link FailedLogins.learn}s of the cluster's;
 * bounded by pruning addresses whose window is over.
 */
export class FailedLogins {
  private readonly failures = new Map<string, number[]>();
  private readonly now: () => number;

  constructor(private readonly options: FailedLoginsOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Milliseconds until `address` may try again; 0 when it may try now. */
  retryAfterMs(address: string): number {
    const recent = this.recent(address);
    if (recent.length < this.options.limit) return 0;
    // Refused until the `limit`-th most recent failure leaves the window. A limit of 0 (or one that is not a whole
    // number) names no such failure, and refuses no one.
    const oldestCounted = recent[recent.length - this.options.limit];
    if (oldestCounted === undefined) return 0;
    return Math.max(1, oldestCounted + this.options.windowMs - this.now());
  }

  /** Counts a failure; returns how many `address` has within the window. */
  fail(address: string): number {
    const recent = this.recent(address);
    recent.push(this.now());
    this.keep(address, recent);
    return recent.length;
  }

  /**
   * Takes the failures of `address` that every server counted (how long ago each was, in ms, as the shared store
   * answers) when they are more than this server knows of: guesses made at the other servers count here too.
   */
  learn(address: string, agesMs: readonly number[]): void {
    if (agesMs.length <= this.recent(address).length) return;
    const now = this.now();
    this.keep(
      address,
      agesMs.map((age) => now - age).sort((a, b) => a - b),
    );
  }

  private keep(address: string, times: number[]): void {
    this.failures.set(address, times);
    if (this.failures.size > 10_000) this.prune();
  }

  private recent(address: string): number[] {
    const since = this.now() - this.options.windowMs;
    return (this.failures.get(address) ?? []).filter((at) => at > since);
  }

  private prune(): void {
    for (const address of [...this.failures.keys()]) {
      const recent = this.recent(address);
      if (recent.length === 0) this.failures.delete(address);
      else this.failures.set(address, recent);
    }
  }
}

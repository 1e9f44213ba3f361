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
 * guessing learns nothing. Counts are per server; bounded by pruning addresses whose window is over.
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
    return Math.max(1, recent[recent.length - this.options.limit]! + this.options.windowMs - this.now());
  }

  /** Counts a failure; returns how many `address` has within the window. */
  fail(address: string): number {
    const recent = this.recent(address);
    recent.push(this.now());
    this.failures.set(address, recent);
    if (this.failures.size > 10_000) this.prune();
    return recent.length;
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

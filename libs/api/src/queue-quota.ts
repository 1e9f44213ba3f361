import { TooMany } from "./errors";

/** How many queued jobs one user may have at once by default (docs/API.md Environment, `MAX_QUEUED_PER_USER`). */
export const DEFAULT_MAX_QUEUED_PER_USER = 200;

/**
 * MAX_QUEUED_PER_USER: a user's queued jobs plus their submissions still on the way to the database may not
 * pass the limit. Submissions in flight are counted so that a burst of concurrent calls cannot slip past it
 * between the check and the store.
 */
export class QueueQuota {
  private readonly inFlight = new Map<string, number>();

  /** `limit` 0 is no limit; `queued(owner)` counts the owner's jobs waiting in the line. */
  constructor(
    private readonly limit: number,
    private readonly queued: (owner: string) => number,
  ) {}

  /** Runs `submit` of `count` jobs for `owner` unless that would pass the limit (then TOO_MANY_REQUESTS, nothing stored). */
  async admit<T>(owner: string, submit: () => Promise<T>, count = 1): Promise<T> {
    if (this.limit === 0) return submit();
    const pending = this.inFlight.get(owner) ?? 0;
    if (this.queued(owner) + pending + count > this.limit) {
      throw new TooMany({
        message:
          count === 1
            ? `You have ${this.limit} jobs waiting already, the most one user may have; wait for some to start`
            : `${count} more jobs would pass ${this.limit} waiting, the most one user may have (MAX_QUEUED_PER_USER)`,
      });
    }
    this.inFlight.set(owner, pending + count);
    try {
      return await submit();
    } finally {
      const left = (this.inFlight.get(owner) ?? count) - count;
      if (left === 0) this.inFlight.delete(owner);
      else this.inFlight.set(owner, left);
    }
  }
}

import type { Caller } from "./caller";

/**
 * The users removed while this server runs, each on a count of removals (not a clock: nothing here depends on time),
 * so that a call admitted before its user was removed can be told from one admitted after: a submission on its way
 * between its admission and its store when its user goes is refused (see `JobService.removeUser`), and "remove, then
 * cancel the user's waiting jobs" leaves none behind. One per server process, across its terms as the leader; every
 * call of a cluster is admitted and served by the leader. Not covered: a call admitted by a server just before it
 * became the leader, whose user the previous leader removed in that moment (its count knows nothing of that removal).
 */
export class UserRemovals {
  private count = 0;
  private readonly removedAt = new Map<string, number>();

  /**
   * Where the count stands: taken when a call's admission starts, before its user is read. A user whose removal is
   * counted later than this was read before the removal (or not found at all).
   */
  now(): number {
    return this.count;
  }

  /** `name`'s row is deleted: calls of theirs admitted before now are theirs no more. */
  removed(name: string): void {
    this.removedAt.set(name, ++this.count);
  }

  /** Whether `caller`'s user was removed after the call was admitted (a caller without a count is not checked). */
  removedSince(caller: Pick<Caller, "name" | "admittedAt">): boolean {
    return caller.admittedAt !== undefined && (this.removedAt.get(caller.name) ?? 0) > caller.admittedAt;
  }
}

import type { LineChange, LineEvent, LineEventChange, LineTiming } from "@anvil/job-machine";

/** Past this many changes in one event, the event says "read again" instead of listing them. */
export const MAX_LINE_CHANGES = 64;

/**
 * The line changes one subscriber has not been sent yet, folded as they come: O(1) per change, and at most
 * {@link MAX_LINE_CHANGES} kept whatever the number of waiting jobs or of changes.
 */
export class PendingLine {
  private changes: LineEventChange[] = [];
  private overflow = false;
  /** The estimates moved while the line did not: an event with no changes is due, for its timing. */
  private retimed = false;
  private latest: number;

  /** `version`: the line version the subscriber's snapshots are at (the service's, when it subscribed). */
  constructor(private sent: number) {
    this.latest = sent;
  }

  /** True when nothing is waiting to be sent. */
  get empty(): boolean {
    return this.latest === this.sent && !this.retimed;
  }

  /** The line's timing changed without a change of the line: the next event carries it, even with no changes. */
  retime(): void {
    this.retimed = true;
  }

  /** Adds the change that made line version `version`. */
  add(version: number, change: LineChange): void {
    this.latest = version;
    if (this.overflow) return;
    const last = this.changes.at(-1);
    // The head starting job after job, and a burst of submissions at one place, are one change each.
    if (change.op === "remove" && last?.op === "remove" && last.at === change.at) {
      last.count++;
      return;
    }
    if (change.op === "insert" && last?.op === "insert" && last.at + last.count === change.at) {
      last.count++;
      return;
    }
    if (this.changes.length >= MAX_LINE_CHANGES) {
      this.overflow = true;
      this.changes = [];
      return;
    }
    this.changes.push(change.op === "reorder" ? { ...change } : { ...change, count: 1 });
  }

  /**
   * The event that brings the subscriber to the latest version with the line's `timing` as it is now, or null when
   * nothing is due.
   */
  take(timing: () => LineTiming | null): LineEvent | null {
    if (this.empty) return null;
    const event: LineEvent = {
      kind: "line",
      from: this.sent,
      version: this.latest,
      changes: this.overflow ? null : this.changes,
      timing: timing(),
    };
    this.sent = this.latest;
    this.changes = [];
    this.overflow = false;
    this.retimed = false;
    return event;
  }
}

/** The least a waiting job's start must move, in ms, for subscribers to be sent the line's timing again. */
const MIN_MOVE_MS = 3_000;

/**
 * Decides when the line's estimates moved enough, while the line itself did not, to send subscribers its timing
 * again: a running job that goes faster or slower than predicted moves every waiting job's start. Checked at most
 * once per `intervalMs` (as the running jobs' progress is written), against the head's start as line events last
 * carried it; a move of 3 s, or of a tenth of the wait when that is more, is worth a message (a card shows "starts
 * in ~40 s" rounded to 5 s).
 */
export class TimingDrift {
  private checkedAt = -Infinity;

  constructor(private readonly intervalMs = 1_000) {}

  /** Whether the head's start moved enough from what was sent (`head()`: epoch ms, null for none) to send it again. */
  moved(now: number, head: () => { sent: number | null; now: number | null }): boolean {
    if (now - this.checkedAt < this.intervalMs) return false;
    this.checkedAt = now;
    const { sent, now: at } = head();
    if (sent === null || at === null) return false;
    return Math.abs(at - sent) >= Math.max(MIN_MOVE_MS, (at - now) / 10);
  }
}

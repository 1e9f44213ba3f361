import type { Caller } from "@anvil/api";

/**
 * How many streams (WebSocket connections and Server-Sent Events streams) one user who is not an admin may hold
 * open at once at the leader. A tab of the web app holds one (two over Server-Sent Events); each stream costs the
 * server memory and a share of every event, and one WebSocket carries up to 100 subscriptions.
 */
export const MAX_STREAMS_PER_USER = 32;

/**
 * The streams each user holds open. Admins are not counted: they may have every user's streams open (`/inspect`,
 * tools), and they are trusted with the server anyway.
 */
export class StreamsPerUser {
  private readonly held = new Map<string, number>();

  constructor(readonly max: number = MAX_STREAMS_PER_USER) {}

  /**
   * Takes a stream for `caller` (none: nobody to count): the function that gives it back (once), or, when they hold
   * `max` already, what their client is told.
   */
  take(caller: Caller | undefined): (() => void) | { refusal: string } {
    if (caller === undefined || caller.admin) return () => undefined;
    const held = this.held.get(caller.name) ?? 0;
    if (held >= this.max) {
      return {
        refusal: `${caller.name} already holds ${this.max} streams open (WebSocket connections and event streams), the most a user may; close one (a tab of the web app holds one) and try again`,
      };
    }
    this.held.set(caller.name, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(caller.name) ?? 1) - 1;
      if (left > 0) this.held.set(caller.name, left);
      else this.held.delete(caller.name);
    };
  }
}

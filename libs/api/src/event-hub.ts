import type { Job, LineChange } from "@anvil/job-machine";
import type { Caller } from "./caller";

/**
 * What the hub carries: persisted status changes, persisted progress, each change of the waiting line as it
 * happens, numbered by the line's version (positions are never persisted: they are read from the live line), a
 * change of the estimates while the line stayed as it was (read them from the service), a user removed or made an
 * admin or no longer one (`revoked`: what they opened was admitted with the rights they had then), web sessions ended
 * (signed out, expired) or users' tokens that name nobody any more (what they opened ends, see {@link endsAccess}),
 * and a conversation of `owner`'s made, renamed or deleted: only a wake-up, for the database says what it is now (see
 * conversation-stream.ts).
 */
export type HubMessage =
  | { kind: "status"; eventId: number; job: Job }
  | { kind: "progress"; job: Job }
  | { kind: "line"; version: number; change: LineChange }
  | { kind: "timing" }
  | { kind: "revoked"; user: string; /** The user is gone (else their rights changed). */ removed?: true }
  | {
      kind: "credentialsEnded";
      sessions: readonly string[];
      tokens: readonly string[];
      /** With `admin`: users a sign-in proxy named (they have no credential of their own), by name. */
      names?: readonly string[];
      admin?: true;
    }
  | { kind: "conversation"; owner: string; conversationId: string };

/**
 * Whether `message` ends what `caller` has open (streams, WebSockets): their user was removed or their admin rights
 * changed, or the web session they signed in with ended, or the token they called with names nobody any more (or,
 * opened as an admin's, no admin). A token's calls end only with its user; each session of a user ends on its own.
 */
export const endsAccess = (message: HubMessage, caller: Caller): boolean =>
  (message.kind === "revoked" && message.user === caller.name) ||
  (message.kind === "credentialsEnded" &&
    // `admin`: the credentials' user is no admin any more; only what was opened as one ends.
    (message.admin !== true || caller.admin) &&
    ((caller.session !== undefined && message.sessions.includes(caller.session)) ||
      (caller.token !== undefined && message.tokens.includes(caller.token)) ||
      (caller.viaProxy === true && message.names?.includes(caller.name) === true)));

/** An in-process broadcast of job changes to every open subscription. */
export class EventHub {
  private readonly listeners = new Set<(message: HubMessage) => void>();
  private readonly internal = new Set<(message: HubMessage) => void>();
  private publishedCount = 0;

  /** Delivers `message` to every listener, synchronously and in order. */
  publish(message: HubMessage): void {
    this.publishedCount++;
    for (const listener of this.listeners) listener(message);
  }

  /**
   * Adds a listener; the returned function removes it. A subscription's listener counts in `subscribers`; the
   * server's own (`{ internal: true }`, e.g. closing a removed user's sockets) does not.
   */
  subscribe(listener: (message: HubMessage) => void, options: { internal?: boolean } = {}): () => void {
    // A wrapper, so that one function subscribed twice is two listeners.
    const entry = (message: HubMessage) => listener(message);
    this.listeners.add(entry);
    if (options.internal) this.internal.add(entry);
    return () => {
      this.listeners.delete(entry);
      this.internal.delete(entry);
    };
  }

  /** How many subscriptions are attached (the server's own listeners left out). */
  get subscribers(): number {
    return this.listeners.size - this.internal.size;
  }

  /** How many messages have been published since start. */
  get published(): number {
    return this.publishedCount;
  }
}

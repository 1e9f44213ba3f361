import type { UserStore } from "@anvil/persistence";
import type { Logger } from "pino";

/** How often the sessions of the open streams are checked for having ended elsewhere (ms). */
export const SESSION_SWEEP_MS = 5_000;

/** Sessions asked about in one query. */
const SWEEP_CHUNK = 1_000;

/** What {@link OpenSessions} is built from. */
export interface OpenSessionsOptions {
  users: Pick<UserStore, "liveSessions">;
  /** Sessions that ended: what was opened with them (streams, WebSockets) ends (an `EventHub` `signedOut`). */
  ended: (sessions: readonly string[]) => void;
  /** Default {@link SESSION_SWEEP_MS}. */
  sweepMs?: number;
  logger: Logger;
}

/**
 * The web sessions (by hash, as `Caller.session` has them) that SSE streams and WebSockets on this server were opened
 * with, so that those end with them: at once when this server signs one out, and within a sweep when one ended
 * otherwise (signed out through another server of a cluster, expired, or ended by a new API_TOKEN). Only sessions
 * with something open are kept and asked about.
 */
export class OpenSessions {
  /** Each session's count of open streams and sockets. */
  private readonly open = new Map<string, number>();
  private readonly timer: ReturnType<typeof setInterval>;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: OpenSessionsOptions) {
    this.timer = setInterval(() => void this.sweep(), options.sweepMs ?? SESSION_SWEEP_MS);
    this.timer.unref();
  }

  /** A stream or socket was opened with `session`; the returned function says it closed (once is enough). */
  opened(session: string): () => void {
    this.open.set(session, (this.open.get(session) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(session) ?? 0) - 1;
      if (left > 0) this.open.set(session, left);
      else this.open.delete(session);
    };
  }

  /**
   * This server ended the session (sign-out): what was opened with it ends now. The session stays on the list until
   * the next sweep finds it ended and ends it again: a stream whose request arrived before the sign-out may join the
   * event hub only after it (its subscription starts once the request is read), and would otherwise stay open.
   */
  signedOut(session: string): void {
    this.options.ended([session]);
  }

  /** Ends what the sessions that are no longer signed in opened; one sweep at a time. */
  sweep(): Promise<void> {
    this.sweeping ??= this.check().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async check(): Promise<void> {
    const asked = [...this.open.keys()];
    for (let i = 0; i < asked.length; i += SWEEP_CHUNK) {
      const chunk = asked.slice(i, i + SWEEP_CHUNK);
      const live = await this.options.users.liveSessions(chunk).catch((error: unknown) => {
        // The database is away: the sessions are asked about again at the next sweep.
        this.options.logger.debug({ err: error }, "could not check the open web sessions; trying again shortly");
        return null;
      });
      if (live === null) return;
      const ended = chunk.filter((session) => !live.has(session));
      if (ended.length === 0) continue;
      for (const session of ended) this.open.delete(session);
      this.options.ended(ended);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

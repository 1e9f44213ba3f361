import type { UserStore } from "@anvil/persistence";
import type { Logger } from "pino";

/** How often the sessions this server admitted are checked for having ended elsewhere (ms). */
export const SESSION_SWEEP_MS = 5_000;

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
 * The web sessions this server admitted calls with (by hash, as `Caller.session` has them), so that what they
 * opened ends with them: at once when this server signs one out, and within a sweep when one ended otherwise (signed
 * out through another server of a cluster, expired, or ended by a new API_TOKEN). A session is forgotten once it
 * has ended, so the set stays as small as the sessions in use.
 */
export class OpenSessions {
  private readonly seen = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: OpenSessionsOptions) {
    this.timer = setInterval(() => void this.sweep(), options.sweepMs ?? SESSION_SWEEP_MS);
    this.timer.unref();
  }

  /** A call was admitted with this session. */
  admitted(session: string): void {
    this.seen.add(session);
  }

  /** This server ended the session (sign-out): what it opened ends now. */
  signedOut(session: string): void {
    this.seen.delete(session);
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
    if (this.seen.size === 0) return;
    const asked = [...this.seen];
    const live = await this.options.users.liveSessions(asked).catch((error: unknown) => {
      // The database is away: the sessions are asked about again at the next sweep.
      this.options.logger.debug({ err: error }, "could not check the open web sessions; trying again shortly");
      return null;
    });
    if (live === null) return;
    const ended = asked.filter((session) => !live.has(session));
    if (ended.length === 0) return;
    for (const session of ended) this.seen.delete(session);
    this.options.ended(ended);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

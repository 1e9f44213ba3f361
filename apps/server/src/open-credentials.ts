import type { Caller } from "@anvil/api";
import type { UserStore } from "@anvil/persistence";
import type { Logger } from "pino";

/** How often the credentials of the open streams are checked for having ended elsewhere (ms). */
export const CREDENTIAL_SWEEP_MS = 5_000;

/** Credentials asked about in one query. */
const SWEEP_CHUNK = 1_000;

/**
 * What ended: web sessions and users' tokens, by hash, as `Caller.session` and `Caller.token` have them; with `admin`,
 * only what they opened as an admin (their user is an admin no more), and then also `names`: users a sign-in proxy
 * named, who have no credential of their own.
 */
export interface EndedCredentials {
  sessions: readonly string[];
  tokens: readonly string[];
  names?: readonly string[];
  admin?: true;
}

/** What {@link OpenCredentials} is built from. */
export interface OpenCredentialsOptions {
  users: Pick<UserStore, "liveSessions" | "liveTokens" | "admins">;
  /** Credentials that ended: what was opened with them (streams, WebSockets) ends (an `EventHub` `credentialsEnded`). */
  ended: (ended: EndedCredentials) => void;
  /** Default {@link CREDENTIAL_SWEEP_MS}. */
  sweepMs?: number;
  logger: Logger;
}

/** A count of open streams and sockets per credential, and the question whether each still holds. */
class OpenCounts {
  private readonly open = new Map<string, number>();

  constructor(private readonly live: (hashes: readonly string[]) => Promise<Set<string>>) {}

  /** One more is open with `hash`; the returned function says it closed (once is enough). */
  opened(hash: string): () => void {
    this.open.set(hash, (this.open.get(hash) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(hash) ?? 0) - 1;
      if (left > 0) this.open.set(hash, left);
      else this.open.delete(hash);
    };
  }

  /** Which of the credentials held open ended (throws when the database cannot be asked). */
  async ended(): Promise<string[]> {
    const asked = [...this.open.keys()];
    const ended: string[] = [];
    for (let i = 0; i < asked.length; i += SWEEP_CHUNK) {
      const chunk = asked.slice(i, i + SWEEP_CHUNK);
      const live = await this.live(chunk);
      for (const hash of chunk) if (!live.has(hash)) ended.push(hash);
    }
    return ended;
  }
}

/**
 * The credentials that SSE streams and WebSockets on this server were opened with (web sessions, users' tokens), so
 * that those end with them: at once when this server signs a session out or removes a user, and within a sweep when
 * one ended otherwise (signed out through another server of a cluster, expired, ended by a new API_TOKEN, or a
 * user removed while a stream of theirs was still starting). Only credentials with something open are kept and asked
 * about. API_TOKEN and a sign-in proxy's header are not: they end only with a restart; but what a proxy's user opened
 * as an admin ends, by the user's name, once they are an admin no more.
 */
export class OpenCredentials {
  private readonly sessions: OpenCounts;
  private readonly tokens: OpenCounts;
  /** The same for what was opened as an admin: it ends when its user is an admin no more. */
  private readonly adminSessions: OpenCounts;
  private readonly adminTokens: OpenCounts;
  /** Users a sign-in proxy named, by name, with what they opened as an admin. */
  private readonly adminProxies: OpenCounts;
  private readonly timer: ReturnType<typeof setInterval>;
  private sweeping: Promise<void> | null = null;

  constructor(private readonly options: OpenCredentialsOptions) {
    this.sessions = new OpenCounts((hashes) => options.users.liveSessions(hashes));
    this.tokens = new OpenCounts((hashes) => options.users.liveTokens(hashes));
    this.adminSessions = new OpenCounts((hashes) => options.users.liveSessions(hashes, new Date(), { admin: true }));
    this.adminTokens = new OpenCounts((hashes) => options.users.liveTokens(hashes, { admin: true }));
    this.adminProxies = new OpenCounts((names) => options.users.admins(names));
    this.timer = setInterval(() => void this.sweep(), options.sweepMs ?? CREDENTIAL_SWEEP_MS);
    this.timer.unref();
  }

  /** A stream or socket was opened by `caller`; the returned function says it closed (once is enough). */
  opened(caller: Caller): () => void {
    const releases = [
      ...(caller.session === undefined ? [] : [this.sessions.opened(caller.session)]),
      ...(caller.token === undefined ? [] : [this.tokens.opened(caller.token)]),
      ...(caller.admin && caller.session !== undefined ? [this.adminSessions.opened(caller.session)] : []),
      ...(caller.admin && caller.token !== undefined ? [this.adminTokens.opened(caller.token)] : []),
      ...(caller.admin && caller.viaProxy === true ? [this.adminProxies.opened(caller.name)] : []),
    ];
    return () => {
      for (const release of releases) release();
    };
  }

  /**
   * This server ended the session (sign-out): what was opened with it ends now. The session stays on the list for as
   * long as something opened with it is open, and every sweep ends that again: a stream whose request arrived before
   * the sign-out may join the event hub only after it (its subscription starts once the request is read), and would
   * otherwise stay open. A removed user's token is swept the same way after the `revoked` that ended its streams at once.
   */
  signedOut(session: string): void {
    this.options.ended({ sessions: [session], tokens: [] });
  }

  /** Ends what the credentials that no longer hold opened; one sweep at a time. */
  sweep(): Promise<void> {
    this.sweeping ??= this.check().finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async check(): Promise<void> {
    try {
      const sessions = await this.sessions.ended();
      const tokens = await this.tokens.ended();
      // Said again at every sweep for as long as something opened with them stays open: a stream whose request was
      // admitted before the end may join the event hub only after a sweep (on a busy machine, long after).
      if (sessions.length + tokens.length > 0) this.options.ended({ sessions, tokens });
      // What was opened as an admin's whose user is an admin no more ends too (users.update ended what was open
      // then; a stream still starting then joins the hub later), to open again with the rights they have now.
      const adminSessions = await this.adminSessions.ended();
      const adminTokens = await this.adminTokens.ended();
      const adminNames = await this.adminProxies.ended();
      if (adminSessions.length + adminTokens.length + adminNames.length > 0) {
        this.options.ended({
          sessions: adminSessions,
          tokens: adminTokens,
          ...(adminNames.length > 0 ? { names: adminNames } : {}),
          admin: true,
        });
      }
    } catch (error: unknown) {
      // The database is away: the credentials are asked about again at the next sweep.
      this.options.logger.debug({ err: error }, "could not check the open streams' credentials; trying again shortly");
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

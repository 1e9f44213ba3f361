import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { settleWithin } from "@anvil/api";
import type { Caller, UserRemovals } from "@anvil/api";
import type { Logger } from "pino";
import { bearerOf, carriesToken, forgedByAPage, isHttps, originAllowed, sessionCookie } from "./auth";
import type { Authenticator } from "./auth";
import { FailedLogins } from "./failed-logins";
import { endSocketWith, json, readBody, trpcErrorReply } from "./http-body";
import { unknownHostNames } from "./host-check";
import type { OpenCredentials } from "./open-credentials";
import { pathOf } from "./request-target";

/** Failed sign-ins one client address may have per minute before it has to wait. */
export const DEFAULT_FAILED_LOGIN_LIMIT = 10;
const FAILED_LOGIN_WINDOW_MS = 60_000;
/** How long a failed sign-in's answer waits at most for the cluster's count (the database may be away). */
const SHARED_COUNT_WAIT_MS = 1_000;
/** A sign-in body carries a token (a few dozen bytes) and nothing else. */
const MAX_LOGIN_BODY_BYTES = 4096;

const parseJson = (body: Buffer): unknown => {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
};

// The socket is gone once the request was cut (e.g. after a body too large): `req.socket` is then null.
const addressOf = (req: IncomingMessage): string =>
  (req.socket as IncomingMessage["socket"] | null)?.remoteAddress ?? "unknown";

/** A caller as `/auth/*` shows it (docs/API.md): who, never the hashes of the credentials they came with. */
const shownUser = ({ name, admin }: Caller): { name: string; admin: boolean } => ({ name, admin });

/** What {@link AuthGate} is built from. */
export interface AuthGateOptions {
  auth: Authenticator;
  logger: Logger;
  /** Origins besides Anvil's own whose pages may open a WebSocket with the session cookie (ALLOWED_ORIGINS). */
  allowedOrigins?: readonly string[];
  /** Failed sign-ins per client address per minute (default 10). */
  failedLoginLimit?: number;
  /** Names this server is known by besides the machine's own (`HOST`, `CLUSTER_URL`'s): see host-check.ts. */
  ownNames?: readonly string[];
  /** The credentials of the streams open here: a session signed out here ends what it opened at once. */
  credentials?: OpenCredentials;
  /**
   * A cluster's shared count (`UserStore.recordFailedSignIn`): records a failure from `address` and answers how
   * long ago each of its failures within `windowMs` was, counted by every server. Without it, counts are this
   * server's alone (the embedded database has one server).
   */
  recordShared?: (address: string, windowMs: number) => Promise<number[]>;
  /** The users removed while this server runs: each caller admitted is stamped with where their count stood. */
  removals?: UserRemovals;
}

/** Outcome of admitting a request: who it is, or the status it was refused with (the answer is sent already). */
type Admission = { caller: Caller } | { caller: null };

/** How each `/auth/` path is asked. */
const AUTH_METHODS = new Map<string, readonly string[]>([
  ["/auth/login", ["POST"]],
  ["/auth/logout", ["POST"]],
  ["/auth/status", ["GET", "HEAD"]],
]);

/** Why a request by a host name where nobody signs in is refused (see {@link AuthGate.rebound}). */
const reboundRefusal = (host: string): string =>
  `Anvil without a sign-in answers its API only by an IP address or a name of this machine, not "${host}": ` +
  "a web page could point a name of its own at this server and act as its admin. To use this name, add " +
  `its origin to ALLOWED_ORIGINS (e.g. http://${host}:<port>), or set API_TOKEN so that callers sign in`;

/**
 * The door of the HTTP server: `/auth/login`, `/auth/logout` and `/auth/status`, and who each API, image and
 * metrics request (and each WebSocket upgrade) is. Failed sign-ins are counted per client address, logged, and
 * past the limit refused with 429 before any token is checked, so that guessing learns nothing.
 */
export class AuthGate {
  private readonly failures: FailedLogins;
  private readonly callers = new WeakMap<IncomingMessage, Caller>();
  /** The refusals of a sign-in proxy's names that were logged (see `check`). */
  private readonly refusalsLogged = new Set<string>();
  /** Where nobody signs in, the host name of a request this server must not answer (see host-check.ts). */
  private readonly unknownHost: (hostHeader: string | undefined) => string | null;

  constructor(private readonly options: AuthGateOptions) {
    this.failures = new FailedLogins({
      limit: options.failedLoginLimit ?? DEFAULT_FAILED_LOGIN_LIMIT,
      windowMs: FAILED_LOGIN_WINDOW_MS,
    });
    this.unknownHost = unknownHostNames(options.ownNames ?? [], options.allowedOrigins ?? []);
  }

  /** Whether requests must say who they are. */
  get required(): boolean {
    return this.options.auth.required;
  }

  /** The caller admitted for `req` (HTTP request or WebSocket upgrade); undefined when it was never admitted. */
  callerOf(req: IncomingMessage): Caller | undefined {
    return this.callers.get(req);
  }

  /** Answers `/auth/*`; false for any other path. */
  async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const allowed = AUTH_METHODS.get(path);
    if (allowed && !allowed.includes(req.method ?? "")) {
      json(
        res,
        405,
        { error: `${req.method} is not a way to ask ${path}: use ${allowed[0]}` },
        { allow: allowed.join(", ") },
      );
      return true;
    }
    if (path === "/auth/login" && req.method === "POST") {
      await this.login(req, res);
      return true;
    }
    if (path === "/auth/logout" && req.method === "POST") {
      if (forgedByAPage(req, this.options.allowedOrigins ?? [])) {
        // A form on another site (another port or subdomain of the same site gets the SameSite cookie) ending a session.
        this.options.logger.warn(
          { address: addressOf(req), origin: req.headers.origin },
          "refused a sign-out posted as a form by a page of a foreign origin",
        );
        json(res, 403, {
          ok: false,
          error: "Sign out from Anvil's own page (a sign-out from another site is refused)",
        });
        return true;
      }
      const ended = await this.options.auth.endSession(req);
      if (ended !== null) this.options.credentials?.signedOut(ended);
      // The browser's cache goes too: images are cached for good, and the next person at this browser, knowing an
      // image's address (its history), would have seen it from there without asking.
      json(res, 200, { ok: true }, { "set-cookie": sessionCookie(null, isHttps(req)), "clear-site-data": '"cache"' });
      return true;
    }
    if (path === "/auth/status") {
      // It answers whether a Bearer token names someone: a guess here counts, and is throttled, like one anywhere else.
      if (carriesToken(req) && this.failures.retryAfterMs(addressOf(req)) > 0) {
        const retry = this.retryAfterSeconds(req);
        json(
          res,
          429,
          { error: `Too many failed sign-ins; try again in ${retry} s` },
          { "retry-after": String(retry) },
        );
        return true;
      }
      const identity = await this.options.auth.identify(req);
      if (identity.user === null && identity.credential) await this.failed(req, identity.reason);
      const user = identity.user && shownUser(identity.user);
      json(res, 200, {
        required: this.required,
        authorized: identity.user !== null,
        user,
        // Whether a sign-in proxy names the users, and this request's: a page offers no Sign out that cannot work.
        proxy: this.options.auth.proxied,
        viaProxy: identity.user?.viaProxy === true,
      });
      return true;
    }
    return false;
  }

  /**
   * The host name `req` was sent to when it may be a page that pointed a name of its own at this machine, where
   * nobody signs in (see host-check.ts); null otherwise. Logged.
   */
  private rebound(req: IncomingMessage): string | null {
    if (this.required) return null;
    const host = this.unknownHost(req.headers.host);
    if (host !== null) {
      this.options.logger.warn(
        { address: addressOf(req), host, path: pathOf(req) },
        "refused a request to an unknown host name where nobody signs in",
      );
    }
    return host;
  }

  /** Who `req` is; when nobody, the 401 (or 429) is sent and the caller is null. */
  async admit(req: IncomingMessage, res: ServerResponse): Promise<Admission> {
    const rebound = this.rebound(req);
    if (rebound !== null) {
      trpcErrorReply(res, "FORBIDDEN", reboundRefusal(rebound));
      return { caller: null };
    }
    if (forgedByAPage(req, this.options.allowedOrigins ?? [])) {
      this.options.logger.warn(
        { address: addressOf(req), origin: req.headers.origin, path: pathOf(req) },
        "refused a POST a page of a foreign origin could send unasked",
      );
      trpcErrorReply(
        res,
        "FORBIDDEN",
        `A POST without a JSON body from a page of another origin (${req.headers.origin}) is refused: it may be ` +
          "a page acting on a visitor's behalf; send the call with content-type: application/json",
      );
      return { caller: null };
    }
    const refusal = await this.check(req);
    if (typeof refusal !== "number" && !("refusal" in refusal)) return { caller: refusal };
    const { code, message, headers } = this.refusalOf(req, refusal);
    trpcErrorReply(res, code, message, headers);
    return { caller: null };
  }

  /** What a request the gate did not admit is answered with: 429 past the failed sign-ins, else 401. */
  private refusalOf(
    req: IncomingMessage,
    refusal: 401 | 429 | { refusal: string },
  ): { code: "TOO_MANY_REQUESTS" | "UNAUTHORIZED"; message: string; headers: Record<string, string> } {
    if (refusal === 429) {
      // In the words too: a client that shows only the message (the CLI) says when to try again.
      const retry = this.retryAfterSeconds(req);
      return {
        code: "TOO_MANY_REQUESTS",
        message: `Too many failed sign-ins from this address; try again in ${retry} s`,
        headers: { "retry-after": String(retry) },
      };
    }
    const message =
      typeof refusal === "object"
        ? refusal.refusal
        : "Unauthorized: send Authorization: Bearer <token>, sign in, or come through the sign-in proxy";
    return { code: "UNAUTHORIZED", message, headers: { "www-authenticate": 'Bearer realm="anvil"' } };
  }

  /**
   * Who a WebSocket upgrade is: checked for origin, then like any request; refused on the socket itself, with the
   * same answer in the API's error shape as any other request would get.
   */
  async admitUpgrade(req: IncomingMessage, socket: Duplex): Promise<Admission> {
    const rebound = this.rebound(req);
    if (rebound !== null) {
      endSocketWith(socket, 403, "FORBIDDEN", reboundRefusal(rebound));
      return { caller: null };
    }
    if (!originAllowed(req, this.options.allowedOrigins ?? [])) {
      this.options.logger.warn(
        { address: addressOf(req), origin: req.headers.origin },
        "refused a WebSocket upgrade without a Bearer token from a foreign origin",
      );
      endSocketWith(
        socket,
        403,
        "FORBIDDEN",
        `A WebSocket from a page of another origin (${req.headers.origin}) is refused without a Bearer token: it may ` +
          "be a page acting on a visitor's behalf; send Authorization: Bearer <token>, or add the origin to ALLOWED_ORIGINS",
      );
      return { caller: null };
    }
    const refusal = await this.check(req);
    if (typeof refusal !== "number" && !("refusal" in refusal)) return { caller: refusal };
    const { code, message, headers } = this.refusalOf(req, refusal);
    endSocketWith(socket, code === "UNAUTHORIZED" ? 401 : 429, code, message, headers);
    return { caller: null };
  }

  /** The caller of `req`, or why not: 429, 401, or a 401 with words of its own for the caller. */
  private async check(req: IncomingMessage): Promise<Caller | 401 | 429 | { refusal: string }> {
    const address = addressOf(req);
    // Taken before the user is read: a removal counted after this may have come after the read (see UserRemovals).
    const admittedAt = this.options.removals?.now();
    const admitted = (user: Caller): Caller => {
      const caller = admittedAt === undefined ? user : { ...user, admittedAt };
      this.callers.set(req, caller);
      return caller;
    };
    if (carriesToken(req) && this.failures.retryAfterMs(address) > 0) {
      const user = await this.options.auth.byMadeToken(bearerOf(req) ?? "");
      if (user === null) return 429;
      return admitted(user);
    }
    const identity = await this.options.auth.identify(req);
    if (identity.user) return admitted(identity.user);
    if (identity.credential) await this.failed(req, identity.reason);
    // A token that names nobody: saying "send a token" to a caller that sent one hides what is wrong.
    if (identity.credential) return { refusal: this.wrongTokenRefusal() };
    if (identity.refusal === undefined) return 401;
    // The proxy is trusted and set up by an operator: a name it sends that Anvil cannot take is theirs to see, in the
    // log once per name (every request of that person's pages is refused alike).
    if (!this.refusalsLogged.has(identity.refusal)) {
      if (this.refusalsLogged.size >= 1_000) this.refusalsLogged.clear();
      this.refusalsLogged.add(identity.refusal);
      this.options.logger.warn({ address, path: pathOf(req), reason: identity.reason }, identity.refusal);
    }
    return { refusal: identity.refusal };
  }

  /** The 401's words for a Bearer token that is neither API_TOKEN nor a user's (wrong, or its user removed). */
  private wrongTokenRefusal(): string {
    return this.required
      ? "Unauthorized: the Bearer token is neither API_TOKEN nor a user's token on this server (a removed user's " +
          "token stops working); send a valid one"
      : "Unauthorized: the Bearer token is no user's token on this server (a removed user's token stops working); " +
          "send a valid one, or none: this server asks for no sign-in";
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (forgedByAPage(req, this.options.allowedOrigins ?? [])) {
      // A form on another site that signs the visitor in as someone else, whose account then gets their prompts.
      this.options.logger.warn(
        { address: addressOf(req), origin: req.headers.origin },
        "refused a sign-in posted as a form by a page of a foreign origin",
      );
      json(res, 403, { ok: false, error: "Sign in from Anvil's own page (a sign-in from another site is refused)" });
      return;
    }
    const throttled = this.failures.retryAfterMs(addressOf(req)) > 0;
    const body = await readBody(req, MAX_LOGIN_BODY_BYTES);
    if (body === null) {
      json(
        res,
        413,
        { ok: false, error: `The sign-in request's body is too large (at most ${MAX_LOGIN_BODY_BYTES} bytes)` },
        { connection: "close" },
      );
      return;
    }
    const parsed = parseJson(body);
    const token = typeof parsed === "object" && parsed !== null ? (parsed as { token?: unknown }).token : undefined;
    if (typeof token !== "string") {
      // A client's mistake, not a guess: it is told what to send, and nothing is counted against its address.
      json(res, 400, { ok: false, error: 'The sign-in body must be JSON: { "token": "<your token>" }' });
      return;
    }
    const given = token.trim();
    if (given === "" && !this.required) {
      json(res, 200, { ok: true, required: false, user: null });
      return;
    }
    // A throttled address still signs in with a token Anvil made (see Authenticator.byMadeToken), and only with one.
    const { auth } = this.options;
    const user = given === "" ? null : await (throttled ? auth.byMadeToken(given) : auth.byToken(given));
    if (!user && throttled) {
      const retry = this.retryAfterSeconds(req);
      json(
        res,
        429,
        { ok: false, error: `Too many failed sign-ins; try again in ${retry} s` },
        { "retry-after": String(retry) },
      );
      return;
    }
    if (!user) {
      await this.failed(req, "wrong token at /auth/login");
      json(res, 401, { ok: false, error: "Wrong token" });
      return;
    }
    const id = await this.options.auth.startSession(user);
    json(
      res,
      200,
      { ok: true, required: this.required, user: shownUser(user) },
      { "set-cookie": sessionCookie(id, isHttps(req)) },
    );
  }

  /**
   * Counts a failed sign-in here, and where the whole cluster counts them (waiting for that, briefly, before the
   * answer goes out, so that the next guess at any server is counted with this one).
   */
  private async failed(req: IncomingMessage, reason: string): Promise<void> {
    const address = addressOf(req);
    let failures = this.failures.fail(address);
    const shared = this.options.recordShared;
    if (shared) {
      const recorded = shared(address, FAILED_LOGIN_WINDOW_MS).catch((error: unknown) => {
        this.options.logger.warn(
          { address, err: error },
          "could not count a failed sign-in where the cluster sees it: counted on this server",
        );
        return null;
      });
      const counted = await settleWithin(recorded, SHARED_COUNT_WAIT_MS, null);
      if (counted) {
        this.failures.learn(address, counted);
        failures = Math.max(failures, counted.length);
      }
    }
    this.options.logger.warn({ address, path: pathOf(req), failures, reason }, "failed sign-in");
  }

  private retryAfterSeconds(req: IncomingMessage): number {
    return Math.max(1, Math.ceil(this.failures.retryAfterMs(addressOf(req)) / 1000));
  }
}

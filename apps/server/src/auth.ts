import { createHash, scrypt, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { ADMIN_NAME, LOCAL_USER, newSecret, RESERVED_NAMES, sha256, USER_NAME, USER_NAME_RULE } from "@anvil/api";
import type { Caller } from "@anvil/api";
import type { UserStore } from "@anvil/persistence";

/** The cookie the web app's login sets: a session id, never a token. */
export const SESSION_COOKIE = "anvil_session";

/** How long a web sign-in lasts. */
export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000;

const sameSecret = (given: string, expected: string): boolean => {
  // Hashing first gives both sides one length, so the comparison's time says nothing about either.
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
};

/** A cookie's value, or undefined. */
export const cookieValue = (header: string | undefined, name: string): string | undefined => {
  for (const part of header?.split(";") ?? []) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) {
      try {
        return decodeURIComponent(rest.join("="));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
};

/**
 * What the built-in admin's row keeps of API_TOKEN, so that a web session signed in with it ends when the token is
 * replaced or unset: a slow, salted hash (API_TOKEN may be as short as 8 characters), never the token itself.
 */
const apiTokenBinding = (apiToken: string): Promise<string> =>
  new Promise((resolve, reject) => {
    scrypt(apiToken, "anvil: the API_TOKEN its admin's web sessions were signed in with", 32, (error, key) =>
      error ? reject(error) : resolve(`scrypt:${key.toString("hex")}`),
    );
  });

export const bearerOf = (req: IncomingMessage): string | undefined =>
  /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1]?.trim();

/** Whether `req` says who it is with a Bearer token of its own (a script), not with what a browser holds. */
export const carriesToken = (req: IncomingMessage): boolean => /^Bearer\s/i.test(req.headers.authorization ?? "");

/**
 * Who a request is, or why it is nobody; `refusal` is what the caller is told when it says more than that they did not
 * sign in (a sign-in proxy that names no user Anvil takes).
 */
export type Identity = { user: Caller } | { user: null; reason: string; credential: boolean; refusal?: string };

/** How Anvil knows who calls (docs/API.md, "Users and sign-in"). */
export interface AuthenticatorOptions {
  users: UserStore;
  apiToken?: string | undefined;
  /** A trusted proxy's header naming the signed-in user. */
  proxyHeader?: string | undefined;
  /**
   * The host name a request was sent to when it is no name of this server's (see host-check.ts), else null. The
   * proxy's header is taken only from requests to a known name: a page that pointed a name of its own at this
   * machine (DNS rebinding) is the page's own origin to the browser, and could send the header itself.
   */
  unknownHost?: (hostHeader: string | undefined) => string | null;
}

/** The hash of the session id `req`'s cookie carries (only hashes are stored), if it carries one. */
const sessionHashOf = (req: IncomingMessage): string | undefined => {
  const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
  return session ? sha256(session) : undefined;
};

/**
 * A header's value as the proxy most likely wrote it: Node reads a header's bytes as Latin-1, and a proxy sends a
 * name in UTF-8 ("é" came out as "Ã©").
 */
const asUtf8 = (value: string): string => Buffer.from(value, "latin1").toString("utf8");

/**
 * Turns a request into a caller: the API_TOKEN (the admin `admin`), a user's token, a session cookie, or the
 * trusted proxy's header. With none of API_TOKEN and AUTH_PROXY_HEADER configured, a request without credentials
 * is the local admin; otherwise it is nobody (401).
 */
export class Authenticator {
  /** Whether a request must say who it is. */
  readonly required: boolean;
  /** Whether a sign-in proxy's header (AUTH_PROXY_HEADER) names users. */
  readonly proxied: boolean;
  private readonly proxyHeader: string | undefined;
  private binding: Promise<string> | undefined;

  constructor(private readonly options: AuthenticatorOptions) {
    this.required = Boolean(options.apiToken || options.proxyHeader);
    this.proxied = Boolean(options.proxyHeader);
    this.proxyHeader = options.proxyHeader?.toLowerCase();
  }

  /** The current API_TOKEN's binding (see {@link apiTokenBinding}), worked out once; undefined without API_TOKEN. */
  private apiTokenBinding(): Promise<string> | undefined {
    const { apiToken } = this.options;
    if (!apiToken) return undefined;
    this.binding ??= apiTokenBinding(apiToken);
    return this.binding;
  }

  /** Whether the built-in admin's row was bound to the current API_TOKEN (false without one). */
  private async adminBound(): Promise<boolean> {
    const binding = this.apiTokenBinding();
    return binding !== undefined && (await this.options.users.byTokenHash(await binding))?.name === ADMIN_NAME;
  }

  /**
   * Binds the built-in admin's row to the current API_TOKEN; the sessions of a row bound to another token, or to
   * none, end (in one transaction with the binding: see `UserStore.bindAdmin`).
   */
  private async bindAdmin(): Promise<void> {
    const binding = this.apiTokenBinding();
    if (binding) await this.options.users.bindAdmin(ADMIN_NAME, await binding);
  }

  /**
   * At start: the built-in admin's row, bound to API_TOKEN, so that `users.list` shows the admin before its first web
   * sign-in (the row was made only then). Without API_TOKEN, nothing.
   */
  async start(): Promise<void> {
    await this.bindAdmin();
  }

  /** The caller of `req`; a credential that names nobody is never the local user. */
  async identify(req: IncomingMessage): Promise<Identity> {
    const bearer = bearerOf(req);
    if (bearer !== undefined) {
      const user = await this.byToken(bearer);
      return user ? { user } : { user: null, reason: "the token names no user", credential: true };
    }
    const hash = sessionHashOf(req);
    if (hash !== undefined) {
      const user = await this.options.users.sessionUser(hash);
      // API_TOKEN's admin signed in with a token that is no longer API_TOKEN (replaced, or unset): that session is over.
      const valid = user !== null && (user.name !== ADMIN_NAME || (await this.adminBound()));
      if (user && valid) return { user: { name: user.name, admin: user.admin, session: hash } };
    }
    if (this.proxyHeader) {
      const named = req.headers[this.proxyHeader];
      const sent = (Array.isArray(named) ? named[0] : named)?.trim();
      const name = sent?.toLowerCase();
      if (!name) return { user: null, reason: `no ${this.options.proxyHeader} header`, credential: false };
      const host = this.options.unknownHost?.(req.headers.host) ?? null;
      if (host !== null) {
        const header = this.options.proxyHeader;
        return {
          user: null,
          reason: `${header} came in a request to the unknown host name ${host}`,
          credential: false,
          refusal:
            `Unauthorized: Anvil takes ${header} only from requests to an IP address or a name of this machine, ` +
            `not "${host}": a web page could point a name of its own at this server and send the header itself. ` +
            `If the sign-in proxy passes on its own host name, add its origin to ALLOWED_ORIGINS (e.g. https://${host})`,
        };
      }
      if (!USER_NAME.test(name) || RESERVED_NAMES.has(name)) {
        const header = this.options.proxyHeader;
        return {
          user: null,
          reason: `${header} names no valid user`,
          credential: false,
          refusal:
            `Unauthorized: the sign-in proxy's ${header} names ${JSON.stringify(
              asUtf8(sent ?? "")
                .toLowerCase()
                .slice(0, 100),
            )}, which Anvil ` +
            `takes as no user: a name is ${USER_NAME_RULE}, and not ${[...RESERVED_NAMES].join(" or ")}`,
        };
      }
      const user = await this.options.users.ensure(name);
      return { user: { name: user.name, admin: user.admin, viaProxy: true } };
    }
    if (!this.required) return { user: LOCAL_USER };
    return { user: null, reason: "no credentials", credential: false };
  }

  /** The user a token names: the API_TOKEN's admin, or the user whose token hash matches; null for neither. */
  async byToken(token: string): Promise<Caller | null> {
    const { apiToken } = this.options;
    if (apiToken && sameSecret(token, apiToken)) return { name: ADMIN_NAME, admin: true };
    return this.byMadeToken(token);
  }

  /**
   * The user `token` names when it is one Anvil made (`users.create`: 256 random bits, which no number of guesses
   * finds), else null; never API_TOKEN, which an operator chose and guesses might find. An address throttled for its
   * failed sign-ins is still let in with such a token: behind a reverse proxy every client shares one address, and
   * one outsider's guesses would lock every script and the CLI out.
   */
  async byMadeToken(token: string): Promise<Caller | null> {
    const hash = sha256(token);
    const user = await this.options.users.byTokenHash(hash);
    // The built-in users have no token of their own: API_TOKEN alone names `admin`.
    return user && !RESERVED_NAMES.has(user.name) ? { name: user.name, admin: user.admin, token: hash } : null;
  }

  /** Starts a web session for `user`; returns the id for the cookie (only its hash is stored). */
  async startSession(user: Caller, now = Date.now()): Promise<string> {
    // A session row refers to its user: the API_TOKEN's admin gets a row of its own on first sign-in, bound to the
    // token. One bound to another token (or to none, made before sessions were bound) goes, and its sessions with it.
    if (user.name === ADMIN_NAME && user.admin) await this.bindAdmin();
    const id = newSecret();
    await this.options.users.createSession(sha256(id), user.name, new Date(now + SESSION_TTL_MS));
    // Expired sessions are swept as new ones start: the table stays as small as the sessions in use.
    await this.options.users.pruneSessions(new Date(now));
    return id;
  }

  /** Ends the session `req` carries, if any; returns its hash (as `Caller.session` has it), or null for none. */
  async endSession(req: IncomingMessage): Promise<string | null> {
    const hash = sessionHashOf(req);
    if (hash === undefined) return null;
    await this.options.users.endSession(hash);
    return hash;
  }
}

/** Whether `req` came over HTTPS, directly or through a proxy that says so. */
export const isHttps = (req: IncomingMessage): boolean =>
  Boolean((req.socket as { encrypted?: boolean }).encrypted) ||
  String(req.headers["x-forwarded-proto"] ?? "")
    .split(",")[0]
    ?.trim()
    .toLowerCase() === "https";

/** The Set-Cookie value for a session id (or, with null, one that clears it). */
export const sessionCookie = (id: string | null, secure: boolean): string =>
  [
    `${SESSION_COOKIE}=${id ?? ""}`,
    "HttpOnly",
    "SameSite=Strict",
    "Path=/",
    `Max-Age=${id === null ? 0 : Math.floor(SESSION_TTL_MS / 1000)}`,
    ...(secure ? ["Secure"] : []),
  ].join("; ");

/**
 * Whether `req` was sent by a web page of an origin other than Anvil's own (the host it was asked for) or one of
 * ALLOWED_ORIGINS: a browser names the page's origin in `Origin`; other clients send none.
 */
export function foreignOrigin(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || allowedOrigins.includes(origin)) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

/**
 * Whether a WebSocket upgrade comes from a page Anvil trusts: its own origin (the host it was asked for) or one of
 * ALLOWED_ORIGINS. One with a Bearer token of its own (a script) may come from anywhere; any other rests on what the
 * browser holds for every page alike (the session cookie, a sign-in proxy's, or nothing at all where nobody signs
 * in, which makes it the admin `local`), and a WebSocket is not held back by CORS.
 */
export function originAllowed(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  return carriesToken(req) || !foreignOrigin(req, allowedOrigins);
}

/** The content types a page may send to another origin without a CORS preflight (none at all is one of them). */
const SIMPLE_TYPE = /^(?:text\/plain|application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/**
 * Whether `req` is a request that any web page can make a browser send to Anvil, unasked, with the browser's
 * standing credentials (the session cookie, a sign-in proxy's, or none at all where nobody signs in): a POST with no
 * content-type or a form's (no CORS preflight; Anvil takes a bodiless one as a call without input, e.g.
 * `jobs.cancelWaiting`, and reads a sign-in's token from any body) from a page of a foreign origin, without a Bearer
 * token of its own.
 */
export function forgedByAPage(req: IncomingMessage, allowedOrigins: readonly string[]): boolean {
  const type = req.headers["content-type"];
  return (
    req.method === "POST" &&
    (type === undefined || SIMPLE_TYPE.test(type.trim())) &&
    !carriesToken(req) &&
    foreignOrigin(req, allowedOrigins)
  );
}

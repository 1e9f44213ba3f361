/** Who makes a call: a user's name, and whether they may act on everyone's things. */
export interface Caller {
  name: string;
  admin: boolean;
  /**
   * The hash of the web session the call was signed in with (the session cookie), if it was: what the call opened
   * ends when that session does (see `endsAccess`).
   */
  session?: string;
  /**
   * The hash of the user's token the call was made with, if it was (not API_TOKEN's): what the call opened ends when
   * that token no longer names a user (see `endsAccess`).
   */
  token?: string;
  /** Named by the sign-in proxy's header (AUTH_PROXY_HEADER): the browser cannot sign out of that here. */
  viaProxy?: true;
  /**
   * Where the server's count of removed users stood when the call's admission started (see `UserRemovals`): a
   * submission of a user removed since is refused. Absent: not checked (a call made inside the server, a test's).
   */
  admittedAt?: number;
}

/** The caller when nobody signs in: one user on their own machine, an admin (docs/API.md, "Users and sign-in"). */
export const LOCAL_USER: Readonly<Caller> = { name: "local", admin: true };

/** Whether `caller` may see or act on what `owner` owns: their own things, or anything for an admin. */
export const mayAccess = (caller: Caller, owner: string): boolean => caller.admin || caller.name === owner;

/** The name API_TOKEN signs in as. */
export const ADMIN_NAME = "admin";

/**
 * What a user may be called, by `users.create` or a sign-in proxy: 1..64 of a-z, 0-9, `.`, `_`, `-` and `@` (a proxy
 * commonly names users by e-mail address).
 */
export const USER_NAME = /^[a-z0-9._@-]{1,64}$/;

/** {@link USER_NAME} in words, for messages that refuse a name. */
export const USER_NAME_RULE = "1..64 characters of a-z, 0-9, '.', '_', '-' and '@'";

/** Names no token or proxy may claim: the local user and the API_TOKEN's admin. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([LOCAL_USER.name, ADMIN_NAME]);

/** DATABASE_URL as it may be shown: the password left out, in its place or as a parameter. */
export const shownDatabaseUrl = (url: string): string => {
  if (!URL.canParse(url)) return "DATABASE_URL";
  const shown = new URL(url);
  shown.password = "";
  // libpq's ?password= works too.
  if (shown.searchParams.has("password")) shown.searchParams.set("password", "***");
  return shown.href;
};

/** What an operator can do about a failure to open PostgreSQL, from the driver's error code, or "". */
const hint = (code: string | undefined, cause: Record<string, unknown>): string => {
  switch (code) {
    case "ECONNREFUSED":
      return "is PostgreSQL running there, on that port?";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "check the host name";
    case "3D000": // invalid_catalog_name
      return "create it (createdb) or name another database";
    case "42P07": // duplicate_table: tables of another application where Anvil's go
      return "give Anvil a database of its own (createdb anvil)";
    case "42501": // insufficient_privilege: a schema in the database, or (PostgreSQL 15 and later) tables in public
      return "the user must be able to create tables there: make it the database's owner (createdb -O <user> anvil)";
    case "28P01": // invalid_password
    case "28000": // invalid_authorization_specification: no such role, or pg_hba.conf refuses it
      return "check the user name and password";
    case "CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return "is the host reachable from here?";
    default:
      return typeof cause["hint"] === "string" ? cause["hint"] : "";
  }
};

/**
 * The driver's own error along `cause`'s chain: drizzle's migrator wraps it as "Failed query: <the whole
 * migration's SQL>", which says nothing an operator can act on.
 */
const driverError = (cause: unknown, depth = 0): Record<string, unknown> => {
  const fields = (typeof cause === "object" && cause !== null ? cause : {}) as Record<string, unknown>;
  if (typeof fields["code"] === "string" || depth > 5 || fields["cause"] === undefined) return fields;
  return driverError(fields["cause"], depth + 1);
};

/**
 * PostgreSQL at DATABASE_URL could not be opened (or migrated) at start. The message names the variable and the
 * address without its password, as the driver's own ("connect ECONNREFUSED 127.0.0.1:5432", "database "anvl" does
 * not exist") does not say which setting to fix.
 */
export class DatabaseUnusable extends Error {
  constructor(url: string, cause: unknown) {
    const fields = driverError(cause);
    const code = typeof fields["code"] === "string" ? fields["code"] : undefined;
    const why = typeof fields["message"] === "string" && fields["message"] !== "" ? fields["message"] : String(cause);
    const advice = hint(code, fields);
    super(`cannot open the database at DATABASE_URL ${shownDatabaseUrl(url)}: ${why}${advice ? `; ${advice}` : ""}`, {
      cause,
    });
    this.name = "DatabaseUnusable";
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A malformed id would make PostgreSQL raise "invalid input syntax for type uuid"; to callers it is simply unknown.
/** True when `id` can be a uuid column value. */
export const isUuid = (id: string): boolean => UUID.test(id);

/**
 * `error` and the errors it wraps, outermost first (drizzle wraps the driver's error in its own `cause`): what the
 * checks of a failed query look through. At most five, so that causes that loop back cannot hold a caller.
 */
export function* errorChain(error: unknown): Generator<Error & { code?: unknown }> {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    yield current;
    current = current.cause;
  }
}

/**
 * What went wrong with a database call, in words for a log line: the driver's message and code ("No space left on
 * device", "connect ECONNREFUSED …", "terminating connection due to administrator command (57P01)"), not drizzle's
 * wrapper, which repeats the whole statement and its parameters (a prompt among them) and says nothing of the cause.
 */
export function databaseErrorText(error: unknown): string {
  const parts: string[] = [];
  for (const e of errorChain(error)) {
    if (e.message.startsWith("Failed query:")) continue;
    parts.push(typeof e.code === "string" && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message);
  }
  return parts.length > 0 ? parts.join(": ") : String(error);
}

/** True when `error` (or a cause it wraps, as drizzle does) is PostgreSQL's unique_violation on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (const e of errorChain(error)) {
    const fields = e as { code?: unknown; constraint?: unknown; constraint_name?: unknown };
    if (fields.code === "23505") return (fields.constraint ?? fields.constraint_name) === constraint;
  }
  return false;
}

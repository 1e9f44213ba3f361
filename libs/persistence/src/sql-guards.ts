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

/** True when `error` (or a cause it wraps, as drizzle does) is PostgreSQL's unique_violation on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (const e of errorChain(error)) {
    const fields = e as { code?: unknown; constraint?: unknown; constraint_name?: unknown };
    if (fields.code === "23505") return (fields.constraint ?? fields.constraint_name) === constraint;
  }
  return false;
}

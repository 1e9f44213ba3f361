const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// A malformed id would make PostgreSQL raise "invalid input syntax for type uuid"; to callers it is simply unknown.
/** True when `id` can be a uuid column value. */
export const isUuid = (id: string): boolean => UUID.test(id);

/** True when `error` (or a cause it wraps, as drizzle does) is PostgreSQL's unique_violation on `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  for (let e: unknown = error; e instanceof Error; e = e.cause) {
    const fields = e as { code?: unknown; constraint?: unknown; constraint_name?: unknown };
    if (fields.code === "23505") return (fields.constraint ?? fields.constraint_name) === constraint;
  }
  return false;
}

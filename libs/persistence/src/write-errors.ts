import { isDatabaseUnreachable } from "./postgres-client";
import { errorChain } from "./sql-guards";

// Transaction rollbacks (serialization failure, deadlock), insufficient resources (too many connections, disk
// full, out of memory), a statement cancelled by a timeout, a lock not available, I/O errors, and a database in
// read-only mode (25006: a standby that a failover pointed the server at, or default_transaction_read_only): the
// database is there but could not do it now. The same write may succeed when it is tried again.
const TRANSIENT_SQLSTATE = /^(40...|53...|57014|55P03|58...|25006)$/;

// PGlite has no error codes for these: the embedded database was closed (or is closing) under the write.
const PGLITE_CLOSED = /^PGlite is clos(ed|ing)$/;

/** True when a write was refused because this server's term as the cluster's leader is over ({@link Fenced}). */
export function isFenced(error: unknown): boolean {
  for (const current of errorChain(error)) if (current.code === "ANVIL_FENCED") return true;
  return false;
}

/**
 * True when a failed write may succeed if it is tried again: the database is unreachable (a refused, reset or
 * terminated connection, a timeout, a postgres.js CONNECTION_* error, a closed PGlite) or could not do it now.
 * False when the write itself is wrong (e.g. a value PostgreSQL cannot store, 22021 / 22P05, or a constraint):
 * trying the same write again can only fail again.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  // Fenced: this server's term as leader ended; its writes are retried until it steps down and abandons them.
  if (isDatabaseUnreachable(error) || isFenced(error)) return true;
  for (const current of errorChain(error)) {
    const { code } = current;
    if (typeof code === "string" && TRANSIENT_SQLSTATE.test(code)) return true;
    if (PGLITE_CLOSED.test(current.message)) return true;
  }
  return false;
}

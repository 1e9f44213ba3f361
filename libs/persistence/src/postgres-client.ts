import { connect } from "node:net";
import type { Socket } from "node:net";
import postgres from "postgres";
import { errorChain } from "./sql-guards";

/** The connection settings postgres.js hands to a `socket` factory (the option is not in its typings). */
interface SocketOptions {
  host: string[];
  port: number[];
  path: string | false | undefined;
}

/** Reconnect delay in seconds: 50 ms doubling up to 2 s, with jitter so that a pool does not knock in step. */
const reconnectBackoff = (attempt: number): number => Math.min(0.05 * 2 ** attempt, 2) * (0.75 + Math.random() / 2);

/** The message types PostgreSQL can answer a new connection with: R, E, v (and N, a notice), or S / N to SSLRequest. */
const FIRST_ANSWERS = new Set([..."REvNS"].map((type) => type.charCodeAt(0)));

/**
 * Opens the TCP (or Unix) socket as postgres.js would, with two differences. Nagle's algorithm is off, as libpq,
 * pgjdbc and Npgsql turn it off on every connection and postgres.js does not (Node leaves it on): across a real
 * network a query written while earlier bytes are not yet acknowledged, such as the tail of an image, waits for that
 * acknowledgement (on loopback, where the bench runs, the two measure the same within noise). And postgres.js treats
 * a connection that the server closes before it said a word (a proxy or pooler in front of a database that is down
 * or restarting accepts and closes at once) as a clean close and reconnects immediately and forever: the query
 * waiting for it hangs instead of failing, and the loop opens hundreds of connections a second. Such a close becomes
 * an error here, so the waiting query fails (the caller decides whether to retry) and the driver counts the failed
 * attempt towards its reconnect backoff. A server that answers something other than PostgreSQL's protocol fails the
 * same way.
 */
const socketFactory = () => {
  let next = 0;
  return (options: SocketOptions): Socket => {
    const index = next++ % options.host.length;
    const host = options.host[index] ?? "localhost";
    const port = options.port[index] ?? 5432;
    const socket = options.path ? connect(options.path) : connect({ port, host, noDelay: true });
    // postgres.js names the server in its errors and in TLS by these.
    Object.assign(socket, { host, port });
    socket.once("end", () => {
      if (socket.bytesRead > 0) return;
      const error = new Error(`the database server at ${host}:${port} closed the connection before it answered`);
      socket.destroy(Object.assign(error, { code: "ECONNRESET" }));
    });
    // The same loop, and no word, when something else listens there (an HTTP server on the wrong port answers its
    // own error and closes): PostgreSQL's first answer is an authentication request, an error, a protocol version or
    // the answer to an SSL request. (Read where postgres.js reads too: its listener is added before any data comes.)
    socket.once("data", (chunk: Buffer) => {
      if (FIRST_ANSWERS.has(chunk[0] ?? 0)) return;
      const said = chunk
        .subarray(0, 40)
        .toString("latin1")
        .replace(/[^\x20-\x7e]+/g, " ")
        .trim();
      const error = new Error(
        `the server at ${host}:${port} does not speak PostgreSQL's protocol (it answered "${said}"): is DATABASE_URL's port right?`,
      );
      socket.destroy(Object.assign(error, { code: "EPROTO" }));
    });
    return socket;
  };
};

/** A postgres.js pool of `max` connections to `url` that fails queries (rather than hangs) while the server is down. */
export function postgresClient(url: string, max: number): postgres.Sql {
  const options: postgres.Options<Record<string, postgres.PostgresType>> & {
    socket: ReturnType<typeof socketFactory>;
  } = {
    max,
    onnotice: () => {},
    // The driver's default backoff grows to 20 s between attempts: after a long outage the server would refuse
    // work for that long after the database is back. The journal above already spaces its own retries.
    backoff: reconnectBackoff,
    socket: socketFactory(),
  };
  // The driver takes host and port lists as they are (its types name only a string and a number).
  return postgres(url, Object.assign(options, bracketedHost(url)));
}

/**
 * The host and port of a URL whose host is an IPv6 address (`postgres://u@[::1]:5432/db`), which postgres.js would
 * cut at its first colon (it splits `host:port` lists so); nothing for any other URL, which the driver reads itself.
 */
export function bracketedHost(url: string): { host?: string[]; port?: number[] } {
  if (!URL.canParse(url)) return {};
  const { hostname, port } = new URL(url);
  if (!hostname.startsWith("[")) return {};
  return { host: [hostname.slice(1, -1)], port: [port === "" ? 5432 : Number(port)] };
}

// Node's socket errors and postgres.js's own connection errors, as their `code`.
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  // Something other than PostgreSQL answered (see socketFactory).
  "EPROTO",
]);

// SQLSTATE class 08 (connection exception) and the server shutting down, crashing or starting up; and a new
// connection refused by a database that is there: its login refused (class 28: a role disabled, a password rotated
// under a running server) or the database gone or renamed (3D000). Every call waits on that alike; none says the
// write itself was wrong.
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-3]|28...|3D000)$/;

/**
 * A database taking no connections (`allow_connections` off while it is restored or moved): 55000, a code PostgreSQL
 * also gives statements that can never succeed, so it is told by where it was raised (its `routine`, which is not
 * translated), or by its message.
 */
const takesNoConnections = (error: Error & { routine?: unknown }): boolean =>
  error.routine === "CheckMyDatabase" || / is not currently accepting connections$/.test(error.message);

/**
 * True when `error` (or an error it wraps, as drizzle's `DrizzleQueryError` does) says that the database could
 * not be reached or went away, rather than that the query itself was wrong.
 */
export function isDatabaseUnreachable(error: unknown): boolean {
  for (const current of errorChain(error)) {
    const { code } = current;
    if (typeof code === "string" && (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
    if (code === "55000" && takesNoConnections(current)) return true;
  }
  return false;
}

import {
  BatchRejected,
  ConversationNotFound,
  IdempotencyConflict,
  InvalidCursor,
  isTransientDatabaseError,
} from "@anvil/persistence";
import { initTRPC, TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import type { Context } from "./context";
import {
  Conflict,
  databaseUnavailable,
  FellBehind,
  HistoryGone,
  Invalid,
  NotFound,
  TooMany,
  Unavailable,
  UserGone,
} from "./errors";

/** The largest request body one call (or batch) may carry, over HTTP or in one WebSocket message. */
export const MAX_BODY_BYTES = 256 * 1024;

/**
 * The largest body of a `jobs.submitMany` sent alone over HTTP (not in a batch): 1,000 jobs, each with a prompt
 * and a negative prompt of up to 4,000 characters (three bytes each in UTF-8 for most scripts beyond Latin).
 */
export const MAX_BULK_BODY_BYTES = 32 * 1024 * 1024;

/** The most calls one tRPC batch (HTTP or WebSocket message) may carry; clients batch at most this many. */
export const MAX_BATCH_CALLS = 50;

/** A refusal's message that names its field: `width: …` unless it names it already (or there is none). */
const naming = (field: string, message: string): string =>
  field && !message.startsWith(field) ? `${field}: ${message}` : message;

const t = initTRPC.context<Context>().create({
  // Stack traces stay on the server, whatever NODE_ENV says.
  isDev: false,
  // No transformer: inputs and outputs are plain JSON, so any HTTP client can call Anvil.
  sse: { ping: { enabled: true, intervalMs: 10_000 }, client: { reconnectAfterInactivityMs: 25_000 } },
  errorFormatter: ({ shape, error, type }) => {
    // An unexpected error's message can carry internals (a failed query's SQL and parameters); the server logs
    // it, the client gets a generic one.
    if (error.code === "INTERNAL_SERVER_ERROR") return { ...shape, message: "Internal server error" };
    // tRPC's own refusal of a large body says only its code.
    if (error.code === "PAYLOAD_TOO_LARGE" && error.message === "PAYLOAD_TOO_LARGE") {
      return {
        ...shape,
        message: `The request's body is larger than one request may carry: ${MAX_BODY_BYTES / 1024} KiB, or ${MAX_BULK_BODY_BYTES / 1024 / 1024} MiB for a jobs.submitMany sent alone`,
      };
    }
    // tRPC's own refusal of a long batch does not say how long one may be.
    if (error.code === "BAD_REQUEST" && error.message === "Batch call exceeds maximum size") {
      return {
        ...shape,
        message: `A batch may hold at most ${MAX_BATCH_CALLS} calls: send the rest in another request`,
      };
    }
    // tRPC's own refusal of a batch of queries and mutations together does not say what to send instead.
    if (error.code === "BAD_REQUEST" && error.message.startsWith("Cannot mix procedure types in call")) {
      return {
        ...shape,
        message:
          "A batch holds queries or mutations, not both: send the mutations (POST) in one request and the queries " +
          "(GET) in another",
      };
    }
    // Input that is no JSON at all: tRPC passes on the parser's bare words ("Expected property name or '}' …").
    if (error.code === "BAD_REQUEST" && error.cause instanceof SyntaxError) {
      const where = type === "mutation" ? "The request's body" : "The input query parameter";
      return { ...shape, message: `${where} is not JSON: ${error.cause.message}` };
    }
    // A refusal made after the schema (an unknown sampler, a callbackUrl at this server) names its field as one does.
    if (error.cause instanceof Invalid) {
      const fields = [naming(error.cause.field, error.cause.message)];
      return { ...shape, data: { ...shape.data, fields } };
    }
    if (!(error.cause instanceof ZodError)) return shape;
    const fields = error.cause.issues.map((issue) => naming(issue.path.join("."), issue.message));
    return { ...shape, message: fields.join("; "), data: { ...shape.data, fields } };
  },
});

/** Domain errors become tRPC errors here, at the edge, and nowhere else. */
const toTRPCError = (error: unknown): TRPCError | undefined => {
  if (error instanceof BatchRejected) {
    // The whole batch was refused for one job: the same code that job alone would get, its index in the message.
    const field = error.cause instanceof IdempotencyConflict ? "idempotencyKey" : "conversationId";
    const code = error.cause instanceof IdempotencyConflict ? "CONFLICT" : "NOT_FOUND";
    return new TRPCError({ code, message: `jobs.${error.index}.${field}: ${error.cause.message}`, cause: error });
  }
  if (error instanceof IdempotencyConflict) {
    return new TRPCError({ code: "CONFLICT", message: error.message, cause: error });
  }
  if (error instanceof NotFound || error instanceof ConversationNotFound) {
    return new TRPCError({ code: "NOT_FOUND", message: error.message, cause: error });
  }
  if (error instanceof Conflict) return new TRPCError({ code: "CONFLICT", message: error.message, cause: error });
  if (error instanceof Invalid || error instanceof InvalidCursor) {
    return new TRPCError({ code: "BAD_REQUEST", message: error.message, cause: error });
  }
  if (error instanceof UserGone) return new TRPCError({ code: "UNAUTHORIZED", message: error.message, cause: error });
  if (error instanceof TooMany) {
    return new TRPCError({ code: "TOO_MANY_REQUESTS", message: error.message, cause: error });
  }
  // Not a refusal: a client resumes from its last event id, as after any dropped stream.
  if (error instanceof FellBehind) return new TRPCError({ code: "TIMEOUT", message: error.message, cause: error });
  if (error instanceof HistoryGone) {
    return new TRPCError({ code: "PRECONDITION_FAILED", message: error.message, cause: error });
  }
  if (error instanceof Unavailable) {
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: error.message, cause: error });
  }
  // The database is unreachable, its disk is full, it is read-only: the call may succeed when tried again.
  if (isTransientDatabaseError(error)) {
    const { reason, again } = databaseUnavailable(error);
    return new TRPCError({ code: "SERVICE_UNAVAILABLE", message: `${reason}; try again ${again}`, cause: error });
  }
  return undefined;
};

const domainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = toTRPCError(result.error.cause);
    if (mapped) throw mapped;
  }
  return result;
});

/** Builds a router. */
export const router = t.router;

/** A procedure whose domain errors arrive as the right tRPC codes. */
export const publicProcedure = t.procedure.use(domainErrors);

/** A procedure only admins may call: FORBIDDEN for anyone else. */
export const adminProcedure = publicProcedure.use(({ ctx, next, path }) => {
  // Named: "Only an admin may do this" did not say which call, nor as whom it was made (a script's token mixed up).
  if (!ctx.user.admin) {
    throw new TRPCError({ code: "FORBIDDEN", message: `Only an admin may call ${path}; ${ctx.user.name} is not one` });
  }
  return next();
});

export { toTRPCError };

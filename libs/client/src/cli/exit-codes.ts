import { TRPCClientError } from "@trpc/client";
import { isNetworkError } from "../transient";

/** What the `anvil` command's exit code means. */
export const EXIT = { done: 0, failed: 1, usage: 2, unreachable: 3 } as const;

/** A failure the command reports in one line and ends with `code`. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** Turns whatever a command threw into a message and an exit code. */
export function classify(error: unknown, url: string): CliFailure {
  if (error instanceof CliFailure) return error;
  if (isNetworkError(error)) return new CliFailure(`Cannot reach Anvil at ${url} (set ANVIL_URL)`, EXIT.unreachable);
  if (error instanceof TRPCClientError) {
    // A 401 from the server's own guard is not a tRPC answer: it has a status but no tRPC error data.
    const status = (error.meta as { response?: { status?: number } } | undefined)?.response?.status;
    const code = (error.data as { code?: string } | undefined)?.code ?? (status === 401 ? "UNAUTHORIZED" : undefined);
    if (code === "BAD_REQUEST") return new CliFailure(error.message, EXIT.usage);
    if (code === "SERVICE_UNAVAILABLE")
      return new CliFailure(`Anvil is unavailable: ${error.message}`, EXIT.unreachable);
    if (code === "UNAUTHORIZED") {
      return new CliFailure(`Anvil at ${url} wants a valid token: set ANVIL_TOKEN`, EXIT.failed);
    }
    return new CliFailure(error.message, EXIT.failed);
  }
  return new CliFailure(error instanceof Error ? error.message : String(error), EXIT.failed);
}

/** How loud a line is: `info` unless said otherwise. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Where the service's parts write their lines (the server's logger, at the level given). */
export type LogHook = (message: string, fields: Record<string, unknown>, level?: LogLevel) => void;

/**
 * A failure that repeats while something is away (the database, a backend): said once at `warn` when it starts,
 * at `debug` while it repeats (a poll once a second would otherwise fill the log), and once at `info` when it ends.
 */
export class FailureSpell {
  private failing = false;

  constructor(
    private readonly log: LogHook | undefined,
    /** Said when the first success follows failures. */
    private readonly recovered: string,
  ) {}

  failed(message: string, fields: Record<string, unknown>): void {
    this.log?.(message, fields, this.failing ? "debug" : "warn");
    this.failing = true;
  }

  succeeded(fields: Record<string, unknown> = {}): void {
    this.over(this.recovered, fields);
  }

  /**
   * Ends a spell of failures without a success (what kept failing is no longer tried): says `message` when failures
   * were said, so that the last word on them is not a warning that reads as still true; silent otherwise.
   */
  over(message: string, fields: Record<string, unknown> = {}): void {
    if (!this.failing) return;
    this.failing = false;
    this.log?.(message, fields, "info");
  }
}

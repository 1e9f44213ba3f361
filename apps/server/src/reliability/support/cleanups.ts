import { afterEach } from "vitest";

/** Something to undo after a test. */
export type Cleanup = () => Promise<unknown> | unknown;

/**
 * For the enclosing describe: what a test pushes here is undone after it, last first (a server before the
 * database it runs on), within `timeoutMs` when given.
 */
export function useCleanups(timeoutMs?: number): Cleanup[] {
  const cleanups: Cleanup[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  }, timeoutMs);
  return cleanups;
}

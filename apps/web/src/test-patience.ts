import { vi } from "vitest";

/**
 * How long a test waits for the page to show something. The tests run beside the server's on a loaded machine
 * (scripts/test.mjs), where the testing library's and vitest's default second was once too short for a page to
 * render its first answer.
 */
export const patienceMs = 5_000;

/** `vi.waitFor` with the tests' patience. */
export const eventually = <T>(check: () => T | Promise<T>): Promise<T> => vi.waitFor(check, { timeout: patienceMs });

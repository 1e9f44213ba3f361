import "@testing-library/jest-dom/vitest";
import { cleanup, configure } from "@solidjs/testing-library";
import { afterEach, beforeEach } from "vitest";
import { checkAuth } from "./lib/auth";
import { patienceMs } from "./test-patience";

// findBy… and waitFor wait as long as `eventually` does.
configure({ asyncUtilTimeout: patienceMs });

// The test files share one page and one module graph (isolate: false in vite.config.ts, for speed): each test
// starts on a page nobody signed in to, with nothing stored, whatever the file before it left.
beforeEach(() => checkAuth(async () => Response.json({ required: false, authorized: true, user: null })));
// Vitest runs without globals, so the testing library cannot register its own cleanup.
afterEach(cleanup);
// The composer keeps its draft in sessionStorage, the streams their cursors: each test starts with none.
afterEach(() => {
  sessionStorage.clear();
  localStorage.clear();
});

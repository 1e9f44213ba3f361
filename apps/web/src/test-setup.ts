import "@testing-library/jest-dom/vitest";
import { cleanup } from "@solidjs/testing-library";
import { afterEach } from "vitest";

// Vitest runs without globals, so the testing library cannot register its own cleanup.
afterEach(cleanup);
// The composer keeps its draft in sessionStorage: each test starts with none.
afterEach(() => sessionStorage.clear());

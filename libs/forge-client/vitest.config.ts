import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // Only catch hangs: these tests run a simulator in its own HTTP server, at a lower CPU priority beside the server's
    // tests in `npm test` (scripts/test.mjs). A test that takes 1.4–2.1 s on a quiet machine went past vitest's
    // default of 5 s in a CI run. Speed is measured in the bench, not here.
    testTimeout: 20_000,
  },
});

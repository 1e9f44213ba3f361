import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    globalSetup: ["src/testing/global-setup.ts"],
    // Opening a database loads the migrated template (global-setup.ts) into a new PGlite.
    hookTimeout: 30_000,
    testTimeout: 15_000,
  },
});

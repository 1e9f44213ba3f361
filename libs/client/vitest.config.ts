import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // One module graph per worker, not one per file: loading XState, Effect, drizzle and PGlite again for each file
    // took longer than most files' tests. Each file still gets a database (or a server) of its own.
    isolate: false,
    globalSetup: ["src/testing/global-setup.ts"],
  },
});

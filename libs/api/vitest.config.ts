import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // One module graph per worker, not one per file: loading XState, Effect, drizzle and PGlite again for each file
    // took longer than most files' tests. Each file still opens a database of its own.
    isolate: false,
    globalSetup: ["src/testing/global-setup.ts"],
    // Opening a database loads the migrated template (global-setup.ts) into a new PGlite.
    // Only catch hangs: with the server's suite running beside this one (nx runs two projects at once on a 2-core CI
    // machine), loading a PGlite can take tens of seconds, and a 30 s hook timeout failed a CI run that way.
    hookTimeout: 120_000,
    testTimeout: 60_000,
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // One module graph per worker, not one per file: loading XState and Effect again for each file took longer than
    // most files' tests.
    isolate: false,
    // Only catch hangs: the property tests (fair-line.test.ts, 300 runs each) took 5.4 s in a CI run with the other
    // projects' suites beside them on 2 cores, past vitest's default of 5 s. Speed is measured in the bench, not here.
    testTimeout: 60_000,
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // One module graph per worker, not one per file: the client's modules load once. Each suite still starts a
    // server of its own.
    isolate: false,
    globalSetup: ["src/testing/global-setup.ts"],
  },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    globalSetup: ["src/testing/global-setup.ts"],
    // Opening a database runs the migrations; on PostgreSQL it also creates a scratch database.
    hookTimeout: 30_000,
    testTimeout: 15_000,
  },
});

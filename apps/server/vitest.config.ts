import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    globalSetup: ["src/testing/global-setup.ts"],
    // The environment is read here, once; test code gets it through inject("testDatabaseUrl").
    provide: { testDatabaseUrl: process.env["TEST_DATABASE_URL"] ?? "" },
    // The suites mostly wait on the simulator and the network, not the CPU: run more files than cores.
    maxWorkers: 4,
    isolate: false,
    // Starting a server opens (and on PostgreSQL first creates) a database.
    hookTimeout: 60_000,
    testTimeout: 20_000,
  },
});

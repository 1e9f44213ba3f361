import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    // One module graph per worker, not one per file: the client's modules load once. Each suite still starts a
    // server of its own.
    isolate: false,
    globalSetup: ["src/testing/global-setup.ts"],
    // expect.poll waits on a built server and a command's output: a second (the default) is too short for a busy
    // 2-core machine, where the browser tests run beside these (scripts/test.mjs). A bound for a hang, not a speed.
    expect: { poll: { timeout: 10_000 } },
  },
});

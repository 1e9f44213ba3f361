import { defaultClientConditions } from "vite";
import { defineConfig } from "vitest/config";
import solid from "vite-plugin-solid";

// The app is served by apps/server from dist/; in `vite dev`, /trpc, /images and /auth go to a running server.
const server = "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [solid()],
  // @anvil/client from its sources (see tsconfig.base.json customConditions).
  resolve: { conditions: ["anvil-source", ...defaultClientConditions] },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: true },
  server: {
    proxy: { "/trpc": server, "/images": server, "/auth": server },
  },
  test: {
    environment: "jsdom",
    // One page and one module graph per worker, not one per file: setting up jsdom for each file took four times
    // as long as the tests themselves. src/test-setup.ts gives each test a page nobody signed in to.
    isolate: false,
    setupFiles: ["./src/test-setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
  },
});

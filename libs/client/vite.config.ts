import { defineConfig } from "vite";

// The library and the `anvil` command as ES modules for Node 20 and browsers; their dependencies stay imports, so
// the consumer's package manager installs them (declarations come from scripts/build-declarations.mjs).
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    minify: false,
    lib: { entry: { index: "src/index.ts", cli: "src/cli.ts" }, formats: ["es"] },
    rollupOptions: {
      external: [/^@trpc\//, "eventsource", "commander", "cli-progress", /^node:/],
      output: { entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" },
    },
  },
});

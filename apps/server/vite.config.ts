import { defineConfig } from "vite";

// The server is bundled with its workspace libraries; npm packages stay external and load from node_modules.
export default defineConfig({
  build: {
    ssr: true,
    outDir: "dist",
    target: "node20",
    sourcemap: true,
    emptyOutDir: true,
    rollupOptions: {
      input: { main: "src/main.ts", bench: "src/bench/bench.ts" },
      // Chunks beside the entries, not in assets/: the server finds the migrations and the web app two levels
      // below the repository root from whichever file it runs in (main.ts loads the rest as a chunk).
      output: { entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" },
    },
  },
  ssr: { noExternal: [/^@anvil\//], target: "node" },
});

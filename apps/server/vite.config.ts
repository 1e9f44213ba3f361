import { defineConfig } from "vite";

// The server is bundled with its workspace libraries and most of its npm packages: loading them as one tree-shaken
// file takes a built server's start from about 1.6 s of CPU to 0.7 s (docs/PERFORMANCE.md, "The test suite's time").
// Three stay external and load from node_modules, since they find files of their own at run time: PGlite its
// WebAssembly and data files, pino its transports (in worker threads), ws its optional native addons.
export default defineConfig({
  build: {
    ssr: true,
    outDir: "dist",
    target: "node20",
    sourcemap: true,
    emptyOutDir: true,
    rollupOptions: {
      input: { main: "src/main.ts", bench: "src/bench/bench.ts", simulator: "src/simulator.ts" },
      // Chunks beside the entries, not in assets/: the server finds the migrations and the web app two levels
      // below the repository root from whichever file it runs in (main.ts loads the rest as a chunk).
      output: { entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" },
    },
  },
  ssr: { noExternal: true, external: ["@electric-sql/pglite", "pino", "ws"], target: "node" },
});

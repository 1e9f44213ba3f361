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
      output: { entryFileNames: "[name].js" },
    },
  },
  ssr: { noExternal: [/^@anvil\//], target: "node" },
});

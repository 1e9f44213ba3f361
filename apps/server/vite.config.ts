import { defineConfig } from "vite";

// The server is bundled with its workspace libraries; npm packages stay external and load from node_modules.
export default defineConfig({
  build: {
    ssr: "src/main.ts",
    outDir: "dist",
    target: "node20",
    sourcemap: true,
    emptyOutDir: true,
    rollupOptions: { output: { entryFileNames: "main.js" } },
  },
  ssr: { noExternal: [/^@anvil\//], target: "node" },
});

import { defineConfig } from "vitest/config";
import preact from "@preact/preset-vite";

// The build is package data of the agent, which serves it read-only at "/".
export default defineConfig({
  plugins: [preact()],
  base: "./",
  build: {
    outDir: "../src/pyarthas/agent/http/static/app",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  test: {
    include: ["test/**/*.test.ts"],
  },
});

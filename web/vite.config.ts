import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

/** The portal SPA: served by the app at /portal/ from web/dist (see src/http/web.ts). */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/portal/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // The server's CSP allows scripts from 'self' only; keep everything in files, never inline.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    // The web bundle imports the pure PIN policy from ../src/domain for live checks.
    fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] },
    proxy: { "/portal/api": "http://127.0.0.1:8080" },
  },
});

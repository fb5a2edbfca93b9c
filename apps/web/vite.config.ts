// The console's build (static files the API serves at /) and its dev server, which proxies the
// API's /trpc and /v1 to the API started beside it by `pnpm dev` (CAPY_API_URL).
import react from "@vitejs/plugin-react";
import { defineConfig, loadEnv } from "vite";

export default defineConfig(({ mode }) => {
  const api = loadEnv(mode, process.cwd(), "CAPY_").CAPY_API_URL ?? "http://127.0.0.1:3000";
  return {
    plugins: [react()],
    build: {
      outDir: "dist",
      assetsDir: "assets",
      target: "es2022",
      // Under the API's CSP (script-src 'self'), nothing may be inlined as a data: URL.
      assetsInlineLimit: 0,
    },
    server: {
      host: "127.0.0.1",
      port: 5173,
      proxy: { "/trpc": api, "/v1": api },
    },
  };
});

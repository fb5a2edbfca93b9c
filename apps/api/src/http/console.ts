// The web console (apps/web's build) at /: index.html revalidated on every load, hashed assets
// cached for a year (their names change with their content). Only the files present at start
// get routes (no wildcard), so every other path keeps its API answer and `{ error }` 404s. Its
// Content-Security-Policy is set with the others in security.ts.
import { existsSync } from "node:fs";
import path from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/** Paths the console's files are served at. */
export const isConsolePath = (urlPath: string) => urlPath === "/" || urlPath === "/index.html" || urlPath === "/favicon.svg" || urlPath.startsWith("/assets/");

/** One year (s): Vite names every asset by its content hash. */
const ASSET_MAX_AGE_S = 365 * 24 * 3600;

export function registerConsole(app: FastifyInstance, consoleDir: string): void {
  if (!existsSync(path.join(consoleDir, "index.html"))) {
    app.log.warn({ consoleDir }, "web console not built (pnpm build): not served at /");
    return;
  }
  app.register(fastifyStatic, {
    root: consoleDir,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    // The queue dashboard registers its own copy of the plugin; no shared reply decorators.
    decorateReply: false,
    cacheControl: false,
    setHeaders: (reply, filePath) => {
      const hashed = path.relative(consoleDir, filePath).startsWith(`assets${path.sep}`);
      reply.header("cache-control", hashed ? `public, max-age=${ASSET_MAX_AGE_S}, immutable` : "no-cache");
    },
  });
}

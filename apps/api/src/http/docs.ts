// GET /v1/openapi.json and the Scalar API reference at /docs. Scalar's script is bundled in the
// package and served from /docs/js/scalar.js, and its web fonts are off, so the page needs no
// CDN and works offline.
import scalarApiReference from "@scalar/fastify-api-reference";
import type { FastifyInstance } from "fastify";
import type { OpenAPIObject } from "trpc-to-openapi";

export const OPENAPI_PATH = "/v1/openapi.json";

export function registerDocsRoutes(app: FastifyInstance, document: OpenAPIObject): void {
  app.get(OPENAPI_PATH, async () => document);
  app.register(scalarApiReference, {
    routePrefix: "/docs",
    configuration: { url: OPENAPI_PATH, pageTitle: "Capy Backups API", withDefaultFonts: false },
  });
}

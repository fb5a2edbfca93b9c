// GET /v1/openapi.json and the Scalar API reference at /docs/. Scalar's script is bundled in the
// package and served from /docs/js/scalar.js, its web fonts and AI agent (which calls
// scalar.com) are off, so the page needs no CDN and works offline.
import scalarApiReference from "@scalar/fastify-api-reference";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { OpenAPIObject } from "trpc-to-openapi";

export const OPENAPI_PATH = "/v1/openapi.json";
const DOCS_PREFIX = "/docs";

/**
 * The page lives at /docs/ (its script URL is relative). Scalar answers a bare /docs with an
 * empty 301, which a curl user sees as nothing at all: this redirect says where to go.
 */
async function redirectBareDocs(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
  const [path, query] = request.url.split("?", 2);
  if (path !== DOCS_PREFIX) return undefined;
  const location = `${DOCS_PREFIX}/${query === undefined ? "" : `?${query}`}`;
  // Returning the reply tells Fastify the answer is sent: the route handler does not run.
  return reply.code(301).header("location", location).type("text/plain; charset=utf-8").send(`The API reference is at ${location}\n`);
}

export function registerDocsRoutes(app: FastifyInstance, document: OpenAPIObject): void {
  app.get(OPENAPI_PATH, async () => document);
  app.register(scalarApiReference, {
    routePrefix: DOCS_PREFIX,
    hooks: { onRequest: redirectBareDocs },
    configuration: { url: OPENAPI_PATH, pageTitle: "Capy Backups API", withDefaultFonts: false, agent: { disabled: true } },
  });
}

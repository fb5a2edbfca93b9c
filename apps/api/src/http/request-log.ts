// `pnpm dev` (LOG_PRETTY): one line per request, "POST /v1/projects/prj_…/backups 201 12.3 ms",
// instead of Fastify's two multi-line objects ("incoming request", "request completed"). JSON
// logs keep Fastify's own request lines (the fields log pipelines read).
import type { FastifyInstance } from "fastify";

/** The path as received: the REST adapter rewrites the raw URL (and so request.url) in its handler. */
const receivedPath = new WeakMap<object, string>();

export function registerPrettyRequestLog(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    receivedPath.set(request, request.url.split("?", 1)[0]!);
  });
  app.addHook("onResponse", async (request, reply) => {
    // The socket's status: the REST adapter's reply wrapper can leave reply.statusCode stale.
    const status = reply.raw.statusCode;
    request.log.info(`${request.method} ${receivedPath.get(request) ?? request.url} ${status} ${reply.elapsedTime.toFixed(1)} ms`);
  });
}

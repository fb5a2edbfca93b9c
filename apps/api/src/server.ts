// The HTTP server: one Fastify instance serving the app router twice (native tRPC at /trpc, REST
// at /v1), the download route, the OpenAPI document with its reference page, and probes. It is
// built from injected dependencies and not started, so tests and main.ts share it.
import { randomUUID } from "node:crypto";
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from "@trpc/server/adapters/fastify";
import Fastify, { type FastifyInstance } from "fastify";
import { createContextFactory } from "./context.js";
import type { AppDeps } from "./deps.js";
import { registerDocsRoutes } from "./http/docs.js";
import { registerDownloadRoute } from "./http/download.js";
import { registerErrorHandlers } from "./http/errors.js";
import { registerHealthRoutes } from "./http/health.js";
import { registerRestApi } from "./http/rest.js";
import { buildOpenApiDocument } from "./openapi.js";
import { appRouter, type AppRouter } from "./router.js";

export function buildServer(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger,
    // Unique across processes, so a request can be followed through aggregated logs.
    genReqId: () => randomUUID(),
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  registerErrorHandlers(app);

  const createContext = createContextFactory(deps);
  app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: { router: appRouter, createContext } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
  registerRestApi(app, createContext);
  registerDownloadRoute(app, deps);
  registerDocsRoutes(app, buildOpenApiDocument());
  registerHealthRoutes(app, deps);
  return app;
}

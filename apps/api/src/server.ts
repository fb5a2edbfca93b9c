// The HTTP server: one Fastify instance serving the app router twice (native tRPC at /trpc, REST
// at /v1), the download route, the OpenAPI document with its reference page, probes, and the
// web console at /. It is built from injected dependencies and not started, so tests and
// main.ts share it.
import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance } from "fastify";
import { createContextFactory } from "./context.js";
import type { AppDeps } from "./deps.js";
import { registerAdminQueues } from "./http/admin.js";
import { trpcChallengeMeta } from "./http/challenge.js";
import { registerConsole } from "./http/console.js";
import { registerDocsRoutes } from "./http/docs.js";
import { registerDownloadRoute } from "./http/download.js";
import { registerErrorHandlers } from "./http/errors.js";
import { registerHealthRoutes } from "./http/health.js";
import { livenessServerFactory } from "./http/liveness.js";
import { registerMetrics, registerMetricsRoute } from "./http/metrics.js";
import { registerNativeTrpc } from "./http/native-trpc.js";
import { RequestLog } from "./http/request-log.js";
import { registerRestApi } from "./http/rest.js";
import { registerSecurity } from "./http/security.js";
import { buildOpenApiDocument } from "./openapi.js";

export function buildServer(deps: AppDeps): FastifyInstance {
  let closing = false;
  const app = Fastify({
    // GET /healthz answered in front of Fastify while the server is open (http/liveness.ts).
    serverFactory: livenessServerFactory(() => closing),
    loggerInstance: deps.logger,
    // Unique across processes, so a request can be followed through aggregated logs.
    genReqId: () => randomUUID(),
    // Larger bodies get 413 { error } before any parsing.
    bodyLimit: deps.config.bodyLimitBytes,
    // Whose X-Forwarded-For to believe for request.ip (per-address rate limits).
    trustProxy: deps.config.trustProxy,
    // One line per request, when it completes.
    logController: new RequestLog(deps.config.logPretty),
  });
  // Set on arrival, where it is known: one onSend hook fewer to run on every answer.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  registerErrorHandlers(app);
  const metrics = registerMetrics(app);
  registerSecurity(app, deps);

  const createContext = createContextFactory(deps);
  // Every route is defined inside this plugin, i.e. after the security plugins have loaded, so
  // their route hooks (rate limits) apply to all of them; a route defined on `app` directly
  // would be added before and escape them.
  app.register(async (routes) => {
    registerNativeTrpc(routes, { createContext, responseMeta: trpcChallengeMeta });
    registerRestApi(routes, createContext);
    registerDownloadRoute(routes, deps);
    registerDocsRoutes(routes, buildOpenApiDocument({ publicUrl: deps.config.publicUrl }));
    registerHealthRoutes(routes, deps);
    registerMetricsRoute(routes, metrics);
    registerAdminQueues(routes, deps);
    registerConsole(routes, deps.config.consoleDir);
  });
  return app;
}

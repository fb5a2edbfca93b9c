// Prometheus metrics at GET /metrics: the process's default metrics plus request counts and
// durations by method, route pattern and status. Routes are always patterns (/v1/jobs/:jobID),
// never raw URLs, so ids never become label values. Unauthenticated and not rate limited, like
// the probes: it is meant for a scraper on the private network.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import { restOperations } from "../rest-operations.js";

export const METRICS_PATH = "/metrics";

interface RoutePattern {
  method: string;
  regex: RegExp;
  label: string;
}

/** The REST operations as /v1 route patterns ("/v1/jobs/:jobID") with their matchers. */
const REST_ROUTES: RoutePattern[] = restOperations.map((operation) => {
  const label = `/v1${operation.path.replace(/\{(\w+)\}/g, ":$1")}`;
  const source = label
    .split(/(:\w+)/)
    .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return { method: operation.method.toUpperCase(), regex: new RegExp(`^${source}/?$`), label };
});

/** The label for a request: the matched route's pattern, a REST operation's path, or "unmatched". */
/** The path as received: the REST adapter rewrites the raw URL (and so request.url) in its handler. */
const receivedPath = new WeakMap<object, string>();
/** The status as sent, captured at onSend: the adapter's reply wrapper confuses the later reads. */
const sentStatus = new WeakMap<object, number>();

export function routeLabel(request: Pick<FastifyRequest, "method" | "url" | "routeOptions">): string {
  const pattern = request.routeOptions.url;
  if (pattern === undefined) return "unmatched";
  // The REST adapter serves every /v1 operation from one catch-all route.
  if (pattern === "/v1/*") {
    const path = (receivedPath.get(request) ?? request.url).split("?", 1)[0]!;
    if (path === "/v1/openapi.json") return path;
    const method = request.method === "HEAD" ? "GET" : request.method;
    return REST_ROUTES.find((route) => route.method === method && route.regex.test(path))?.label ?? "/v1/*";
  }
  return pattern;
}

export interface ApiMetrics {
  registry: Registry;
}

export function registerMetrics(app: FastifyInstance): ApiMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: "capy-api" });
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time to answer HTTP requests, by route pattern and status (seconds).",
    labelNames: ["route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  // Callback-style hooks: no promise per request.
  app.addHook("onRequest", (request, _reply, done) => {
    receivedPath.set(request, request.url);
    done();
  });
  app.addHook("onSend", (request, reply, payload, done) => {
    sentStatus.set(request, reply.statusCode);
    done(null, payload);
  });
  app.addHook("onResponse", (request, reply, done) => {
    const route = routeLabel(request);
    const status = String(sentStatus.get(request) ?? reply.statusCode);
    requests.inc({ method: request.method, route, status });
    duration.observe({ route, status }, reply.elapsedTime / 1_000);
    done();
  });
  return { registry };
}

export function registerMetricsRoute(app: FastifyInstance, metrics: ApiMetrics): void {
  app.get(METRICS_PATH, { logLevel: "warn" }, async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

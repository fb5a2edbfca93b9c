// The request metrics count the API's answers by route pattern and status, and not the answers
// to machines (probes and scrapes, machine-paths.ts).
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LIVENESS_PATH, METRICS_PATH, READINESS_PATH } from "./machine-paths.js";
import { registerMetrics, registerMetricsRoute } from "./metrics.js";

let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  const metrics = registerMetrics(app);
  app.register(async (routes) => {
    routes.get("/v1/jobs/:jobID", async () => ({ ok: true }));
    for (const path of [LIVENESS_PATH, READINESS_PATH]) routes.get(path, async () => ({ status: "ok" }));
    registerMetricsRoute(routes, metrics);
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
});

it("counts API answers by route pattern, 404s as unmatched, and neither probes nor scrapes", async () => {
  for (const url of ["/v1/jobs/job_1", "/v1/jobs/job_2", "/v1/nope", LIVENESS_PATH, READINESS_PATH, METRICS_PATH]) {
    await app.inject({ method: "GET", url });
  }
  const text = (await app.inject({ method: "GET", url: METRICS_PATH })).body;
  const counted = text.split("\n").filter((line) => line.startsWith("http_requests_total{"));
  expect(counted.map((line) => line.replace(/,?service="capy-api"/, ""))).toEqual([
    'http_requests_total{method="GET",route="/v1/jobs/:jobID",status="200"} 2',
    'http_requests_total{method="GET",route="unmatched",status="404"} 1',
  ]);
  expect(text).toContain('http_request_duration_seconds_count{service="capy-api",route="/v1/jobs/:jobID",status="200"} 2');
  expect(text).not.toMatch(/route="\/(healthz|readyz|metrics)"/);
});

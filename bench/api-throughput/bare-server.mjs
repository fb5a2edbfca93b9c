// The baseline of bench/api-throughput: a bare Fastify 5 server (no logger, no plugins), in its
// own process like the API. On each path of BENCH_ANSWERS_FILE (method, path, status, body: what
// the API answered there) it answers the same JSON with the same status; any other GET gets the
// JSON of the API's list of scheduled backups (BENCH_BODY_FILE).
// With BENCH_LAYERS (comma-separated), it adds the API's own request layers, imported from the
// built API, one at a time, so the bench can price each: headers (helmet + CSP), ratelimit
// (Redis-backed, as the API configures it), logging (the API's pino logger at info, its request
// line on), metrics (Prometheus request counters), reqid (UUID request ids + x-request-id).
// Prints `listening <port>` on stderr once ready (stdout carries the logging layer's lines).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import Fastify from "fastify";

const body = JSON.parse(readFileSync(process.env.BENCH_BODY_FILE, "utf8"));
const layers = new Set((process.env.BENCH_LAYERS ?? "").split(",").filter(Boolean));
const api = (module) => import(new URL(`../../apps/api/dist/${module}`, import.meta.url).href);

const options = {};
if (layers.has("logging")) {
  const { createLogger } = await api("logger.js");
  const { RequestLog } = await api("http/request-log.js");
  options.loggerInstance = createLogger({ logLevel: "info" });
  options.logController = new RequestLog(false);
}
if (layers.has("reqid")) options.genReqId = () => randomUUID();
const app = Fastify(options);
const closers = [];

if (layers.has("reqid")) {
  app.addHook("onSend", (request, reply, payload, done) => {
    reply.header("x-request-id", request.id);
    done(null, payload);
  });
}
if (layers.has("metrics")) {
  const { registerMetrics } = await api("http/metrics.js");
  registerMetrics(app);
}
if (layers.has("headers")) {
  const { registerSecurityHeaders } = await api("http/security.js");
  registerSecurityHeaders(app);
}
if (layers.has("ratelimit")) {
  const { registerRateLimit } = await api("http/rate-limit.js");
  const { createSessionVerifier } = await api("auth/session.js");
  const { createProducerConnection } = await import(new URL("../../packages/queue/dist/index.js", import.meta.url).href);
  const prefix = process.env.BENCH_REDIS_PREFIX;
  const redis = createProducerConnection({ url: process.env.BENCH_REDIS_URL, prefix });
  closers.push(() => redis.quit());
  registerRateLimit(app, {
    config: { rateLimit: { perMinute: 1_000_000_000 }, redis: { url: process.env.BENCH_REDIS_URL, prefix } },
    redis,
    verifySession: createSessionVerifier(undefined),
  });
}
const answers = process.env.BENCH_ANSWERS_FILE ? JSON.parse(readFileSync(process.env.BENCH_ANSWERS_FILE, "utf8")) : [];
app.register(async (routes) => {
  routes.get("/*", async () => body);
  // Serialised on every request, as the API serialises its answers.
  for (const answer of answers)
    routes.route({ method: answer.method, url: answer.path, handler: (_request, reply) => reply.code(answer.status).send(answer.body) });
});

process.once("SIGTERM", async () => {
  await app.close();
  for (const close of closers) await close();
  process.exit(0);
});
await app.listen({ host: "127.0.0.1", port: 0 });
console.error(`listening ${app.server.address().port}`);

// Per-credential (else per-address) request limits, counted in Redis across API processes
// (rate-limit-store.ts), on every route but the probes and /metrics. What @fastify/rate-limit
// did with our store and settings, as one callback-style onRequest hook: the plugin ran two
// async functions and a promise around the store per request, even when the store answered at
// once from its lease (bench/api-throughput: a tenth of the CPU of GET /v1/me). Same answers:
// x-ratelimit-limit / -remaining / -reset on every limited route's answer, and over the limit
// 429 `{ error: "rate limit exceeded: retry in …" }` with Retry-After (seconds); when Redis
// fails, requests pass unlimited (the plugin's skipOnError).
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from "fastify";
import { createRateLimitKeyGenerator } from "../auth/authenticate.js";
import type { AppDeps } from "../deps.js";
import { AppError } from "../errors.js";
import { MACHINE_PATHS } from "./machine-paths.js";
import { leasingRedisStore } from "./rate-limit-store.js";
import { appendHook } from "./route-hooks.js";

/** The window every limit counts in (ms): RATE_LIMIT_PER_MINUTE. */
const WINDOW_MS = 60_000;

/** "1 second", "42 seconds", "1 minute": how the plugin worded the wait (windows are ≤ 1 min). */
export function describeWait(seconds: number): string {
  if (seconds === 60) return "1 minute";
  return `${seconds} ${seconds === 1 ? "second" : "seconds"}`;
}

type Done = (error?: Error) => void;

export function registerRateLimit(app: FastifyInstance, deps: Pick<AppDeps, "config" | "redis" | "verifySession">): void {
  const max = deps.config.rateLimit.perMinute;
  // Shares the deployment's key prefix, so deployments on one Redis never share counters.
  const Store = leasingRedisStore(deps.redis, `${deps.config.redis.prefix}:rate-limit:`);
  const store = new Store();
  const keyOf = createRateLimitKeyGenerator(deps.verifySession);

  const count = (key: string, reply: FastifyReply, done: Done) => {
    store.incr(
      key,
      (error, result) => {
        // Redis down must not take the API down with it: requests pass unlimited meanwhile.
        if (error || !result) return done();
        const resetSeconds = Math.ceil(result.ttl / 1000);
        reply.header("x-ratelimit-limit", max);
        reply.header("x-ratelimit-remaining", Math.max(0, max - result.current));
        reply.header("x-ratelimit-reset", resetSeconds);
        if (result.current <= max) return done();
        reply.header("retry-after", resetSeconds);
        done(new AppError("TOO_MANY_REQUESTS", `rate limit exceeded: retry in ${describeWait(resetSeconds)}`));
      },
      WINDOW_MS,
      max,
    );
  };
  // Callback-style: an API key's bucket and a leased token are known at once, with no promise.
  const limit: onRequestHookHandler = (request: FastifyRequest, reply: FastifyReply, done: Done) => {
    const key = keyOf(request);
    if (typeof key === "string") count(key, reply, done);
    else key.then((resolved) => count(resolved, reply, done), done);
  };
  // On each route as it is defined (routes of every plugin scope), probes and /metrics aside.
  app.addHook("onRoute", (route) => {
    if (MACHINE_PATHS.has(route.url)) return;
    route.onRequest = appendHook(route.onRequest, limit);
  });
}

// Probes. /healthz: the process is alive. /readyz: it can serve, i.e. Postgres and Redis both
// answer within the deadline. Both are machine paths (machine-paths.ts): no request log, no rate
// limit, not counted in the request metrics. Over HTTP, /healthz is answered in front of Fastify
// (liveness.ts), with this route's answer; the route serves the rest (inject, a query string).

import { withTimeout } from "@capy/queue";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";
import { AppError } from "../errors.js";
import { LIVENESS_PATH, READINESS_PATH } from "./machine-paths.js";

/** Longest a dependency may take to answer a readiness check (ms). */
const CHECK_TIMEOUT_MS = 2_000;

export function registerHealthRoutes(app: FastifyInstance, deps: Pick<AppDeps, "db" | "redis">): void {
  app.get(LIVENESS_PATH, { logLevel: "warn" }, async () => ({ status: "ok" }));

  app.get(READINESS_PATH, { logLevel: "warn" }, async (request) => {
    const checks = {
      postgres: () => deps.db.$queryRaw`SELECT 1`,
      redis: () => deps.redis.ping(),
    };
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS, name);
          return undefined;
        } catch (err) {
          request.log.warn({ err, dependency: name }, "readiness check failed");
          return name;
        }
      }),
    );
    const down = results.filter((name) => name !== undefined);
    if (down.length > 0) throw new AppError("SERVICE_UNAVAILABLE", `not ready: ${down.join(", ")} unreachable`);
    return { status: "ok" };
  });
}

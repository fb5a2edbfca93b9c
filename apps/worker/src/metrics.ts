// The worker's Prometheus metrics and the small HTTP server that exposes them with probes:
// GET /metrics, /healthz (the process is alive) and /readyz (Postgres and Redis answer).
// Queue depth and the age of each project's newest verified backup are read on scrape.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Db } from "@capy/db";
import { withTimeout } from "@capy/queue";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Logger } from "./logger.js";

export type VerificationOutcome = "verified" | "failed" | "interrupted";
/** Outcome of one webhook delivery attempt: delivered, failed and retried later, or failed for good. */
export type DeliveryOutcome = "succeeded" | "retrying" | "failed";

/** The metrics port when WORKER_METRICS_PORT is unset (Prometheus's registry lists 9464). */
export const DEFAULT_METRICS_PORT = 9464;

/** Longest a dependency may take to answer, on /readyz or while collecting (ms). */
const CHECK_TIMEOUT_MS = 2_000;

export interface MetricsSources {
  db: Db;
  /** Counts of waiting/active/delayed jobs. */
  queue: Pick<Queue, "getJobCounts">;
  log: Logger;
}

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly jobs: Counter<"type" | "outcome">;
  readonly dumpDuration: Histogram;
  readonly dumpBytes: Histogram;
  readonly verifications: Counter<"outcome">;
  readonly webhookDeliveries: Counter<"outcome">;
  readonly webhookLatency: Histogram<"outcome">;

  constructor(sources: MetricsSources) {
    const { registry } = this;
    registry.setDefaultLabels({ service: "capy-worker" });
    collectDefaultMetrics({ register: registry });
    this.jobs = new Counter({
      name: "capy_jobs_total",
      help: "Job attempts finished by this worker, by job type and outcome (completed, failed, retrying, canceled, interrupted; skipped: the job had finished before it could run).",
      labelNames: ["type", "outcome"] as const,
      registers: [registry],
    });
    this.dumpDuration = new Histogram({
      name: "capy_dump_duration_seconds",
      help: "Time pg_dump took to stream a backup into storage (seconds).",
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3_600, 4 * 3_600],
      registers: [registry],
    });
    this.dumpBytes = new Histogram({
      name: "capy_dump_bytes",
      help: "Size of stored backup artifacts (bytes).",
      buckets: [1 << 10, 1 << 16, 1 << 20, 16 << 20, 256 << 20, 2 ** 30, 16 * 2 ** 30, 256 * 2 ** 30],
      registers: [registry],
    });
    this.verifications = new Counter({
      name: "capy_verifications_total",
      help: "Backup verifications (restore and compare) finished, by outcome.",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
    this.webhookDeliveries = new Counter({
      name: "capy_webhook_deliveries_total",
      help: "Webhook delivery attempts made by this worker, by outcome (succeeded, retrying, failed for good).",
      labelNames: ["outcome"] as const,
      registers: [registry],
    });
    this.webhookLatency = new Histogram({
      name: "capy_webhook_delivery_duration_seconds",
      help: "Time until the endpoint answered a delivery attempt, or gave up (seconds), by outcome.",
      labelNames: ["outcome"] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    new Gauge({
      name: "capy_queue_depth",
      help: "Jobs in the backup queue by state (read from Redis on scrape).",
      labelNames: ["state"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        try {
          const counts = await withTimeout(sources.queue.getJobCounts("waiting", "active", "delayed"), CHECK_TIMEOUT_MS, "redis");
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        } catch (error) {
          sources.log.warn({ err: (error as Error).message }, "metrics: could not read queue depth");
        }
      },
    });
    new Gauge({
      name: "capy_newest_good_backup_age_seconds",
      help: "Per project, seconds since its newest completed and verified backup was taken (read from Postgres on scrape).",
      labelNames: ["project_id"] as const,
      registers: [registry],
      async collect() {
        this.reset();
        try {
          const rows = await withTimeout(
            sources.db.$queryRaw<Array<{ project_id: string; age_seconds: number }>>`
              SELECT project_id, EXTRACT(EPOCH FROM (now() - max(created_at)))::float8 AS age_seconds
                FROM backups
               WHERE state = 'completed' AND verification_state = 'verified'
               GROUP BY project_id`,
            CHECK_TIMEOUT_MS,
            "postgres",
          );
          for (const row of rows) this.set({ project_id: row.project_id }, Math.max(0, Number(row.age_seconds)));
        } catch (error) {
          sources.log.warn({ err: (error as Error).message }, "metrics: could not read backup ages");
        }
      },
    });
  }
}

export interface MetricsServer {
  /** The bound port (the chosen one when configured as 0). */
  port: number;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  metrics: WorkerMetrics;
  db: Db;
  redis: Pick<Redis, "ping">;
  port: number;
  /** The port was configured (WORKER_METRICS_PORT): taken is an error, not a reason to pick another. */
  portExplicit: boolean;
  host: string;
  log: Logger;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, db, redis, log } = options;
  const json = (status: number, body: unknown) => ({ status, type: "application/json; charset=utf-8", body: JSON.stringify(body) });
  const answer = async (method: string, path: string): Promise<{ status: number; type: string; body: string }> => {
    if (method !== "GET" && method !== "HEAD") return json(405, { error: "Method not allowed" });
    switch (path) {
      case "/metrics":
        return { status: 200, type: metrics.registry.contentType, body: await metrics.registry.metrics() };
      case "/healthz":
        return json(200, { status: "ok" });
      case "/readyz": {
        const checks: Array<[string, () => Promise<unknown>]> = [
          ["postgres", () => db.$queryRaw`SELECT 1`],
          ["redis", () => redis.ping()],
        ];
        const down = (
          await Promise.all(
            checks.map(async ([name, check]) => {
              try {
                await withTimeout(check(), CHECK_TIMEOUT_MS, name);
                return undefined;
              } catch (error) {
                log.warn({ err: (error as Error).message, dependency: name }, "readiness check failed");
                return name;
              }
            }),
          )
        ).filter((name) => name !== undefined);
        return down.length > 0 ? json(503, { error: `not ready: ${down.join(", ")} unreachable` }) : json(200, { status: "ok" });
      }
      default:
        return json(404, { error: "Not found" });
    }
  };
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?", 1)[0]!;
    answer(request.method ?? "GET", path).then(
      ({ status, type, body }) => {
        response.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        response.end(request.method === "HEAD" ? undefined : body);
      },
      (error: unknown) => {
        log.error({ err: error }, "metrics request failed");
        response.writeHead(500, { "content-type": "application/json; charset=utf-8" });
        response.end(JSON.stringify({ error: "Internal server error" }));
      },
    );
  });
  const port = await listenOnPort(server, options);
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const listen = (server: Server, port: number, host: string) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });

/**
 * Binds the configured port. Several workers on one host all default to the same port: the
 * second one takes a free port and says which; an explicitly configured port that is taken stops
 * the worker at start with a message naming the setting.
 */
async function listenOnPort(server: Server, options: MetricsServerOptions): Promise<number> {
  try {
    return await listen(server, options.port, options.host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    if (options.portExplicit) {
      throw new Error(
        `WORKER_METRICS_PORT ${options.port} is already in use on ${options.host} (another worker on this host?): ` +
          "give each worker its own port, or leave WORKER_METRICS_PORT unset to take a free one",
      );
    }
  }
  const port = await listen(server, 0, options.host);
  options.log.warn(
    { wanted_port: options.port, metrics_port: port },
    `metrics port ${options.port} is taken (another worker on this host?); serving /metrics, /healthz and /readyz on ${port}`,
  );
  return port;
}

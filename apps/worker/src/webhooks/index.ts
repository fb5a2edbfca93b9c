// Webhook delivery in a worker process: the fan-out of outbox events into deliveries, the
// delivery queue's worker, its sender (one connection pool, the target policy enforced at connect
// time) and the delivery reconciler.
import type { Db, Keyring } from "@capy/db";
import { createWorkerConnection, type WebhookQueue } from "@capy/queue";
import { type BackoffPolicy, type TargetPolicy, WebhookSender } from "@capy/webhooks";
import type { Logger } from "../logger.js";
import type { WorkerMetrics } from "../metrics.js";
import { startFanOut } from "./fanout.js";
import { createDeliveryWorker } from "./queue-worker.js";
import { startDeliveryReconciler } from "./reconciler.js";

export interface WebhookDeliveryOptions {
  db: Db;
  /** Producer-side queue handle (shared connection) for next attempts and the reconciler. */
  queue: WebhookQueue;
  redisUrl: string;
  prefix: string;
  workerId: string;
  concurrency: number;
  policy: TargetPolicy;
  backoff: BackoffPolicy;
  disableAfterMs: number;
  reconcileIntervalMs: number;
  /** How often the outbox is read for new events (ms). */
  fanOutIntervalMs: number;
  keyring: Keyring | undefined;
  lockDurationMs: number;
  stalledIntervalMs: number;
  metrics: WorkerMetrics;
  log: Logger;
}

export interface WebhookDelivery {
  waitUntilReady(): Promise<void>;
  /** Stops taking attempts and waits for the running ones (each ends within 10 s). */
  drain(): Promise<void>;
  release(): Promise<void>;
}

export function startWebhookDelivery(options: WebhookDeliveryOptions): WebhookDelivery {
  const log = options.log.child({ component: "webhooks" });
  const connection = createWorkerConnection({ url: options.redisUrl, prefix: options.prefix });
  connection.on("error", (error: Error) => log.warn({ err: error.message }, "redis connection error"));
  const sender = new WebhookSender({ policy: options.policy });
  const deps = {
    db: options.db,
    queue: options.queue,
    sender,
    keyring: options.keyring,
    backoff: options.backoff,
    disableAfterMs: options.disableAfterMs,
    metrics: options.metrics,
    log,
  };
  const worker = createDeliveryWorker(
    {
      connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      workerId: options.workerId,
      lockDurationMs: options.lockDurationMs,
      stalledIntervalMs: options.stalledIntervalMs,
      log,
    },
    deps,
  );
  const reconciler = startDeliveryReconciler({ db: options.db, queue: options.queue, intervalMs: options.reconcileIntervalMs, log });
  const fanOut = startFanOut({ db: options.db, queue: options.queue, intervalMs: options.fanOutIntervalMs, log });
  return {
    waitUntilReady: () => worker.waitUntilReady().then(() => {}),
    drain: () => worker.close(),
    async release() {
      await Promise.all([fanOut.stop(), reconciler.stop()]);
      await sender.close();
      connection.disconnect();
    },
  };
}

// The BullMQ worker of the delivery queue, separate from the backup queue so slow endpoints never
// hold up dumps (and the other way round), with a concurrency of its own.

import { WEBHOOK_QUEUE, WebhookDeliveryPayload } from "@capy/contracts";
import { Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import { type AttemptDeps, attemptDelivery } from "./attempt.js";

export interface DeliveryWorkerOptions {
  /** A connection of its own, with maxRetriesPerRequest: null (createWorkerConnection). */
  connection: Redis;
  prefix: string;
  concurrency: number;
  workerId: string;
  /** As the backup worker's: a worker that dies mid-attempt has its attempt handed out again after this (ms). */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  log: Logger;
}

export function createDeliveryWorker(options: DeliveryWorkerOptions, deps: AttemptDeps): Worker<WebhookDeliveryPayload, void, "deliver"> {
  const worker = new Worker<WebhookDeliveryPayload, void, "deliver">(
    WEBHOOK_QUEUE,
    async (job) => attemptDelivery(deps, WebhookDeliveryPayload.parse(job.data)),
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: options.concurrency,
      name: options.workerId,
      ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
      ...(options.stalledIntervalMs === undefined ? {} : { stalledInterval: options.stalledIntervalMs }),
    },
  );
  worker.on("error", (error) => options.log.error({ err: error }, "delivery worker error"));
  worker.on("failed", (job, error) =>
    options.log.warn({ job_id: job?.id, err: error.message }, "delivery attempt failed to run; the reconciler will queue it again"),
  );
  return worker;
}

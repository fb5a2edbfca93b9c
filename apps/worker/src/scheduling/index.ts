// Scheduled backups on the worker side: a second BullMQ Worker that handles firings of the job
// schedulers on SCHEDULE_QUEUE, and the schedule reconciler. Its own Redis connections and a
// small Postgres pool, so a storm of firings never waits behind (or starves) running backups.

import { SCHEDULE_QUEUE, ScheduleFirePayload } from "@capy/contracts";
import { createDb } from "@capy/db";
import { createBackupQueue, createProducerConnection, createScheduleQueue, createWorkerConnection } from "@capy/queue";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import type { Logger } from "../logger.js";
import { FireBatcher } from "./batcher.js";
import { fireSchedules } from "./fire.js";
import { startScheduleReconciler } from "./reconciler.js";

export interface SchedulingOptions {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  workerId: string;
  /** Firings handled at once by this process. */
  fireConcurrency: number;
  catchUpHours: number;
  reconcileIntervalMs: number;
  log: Logger;
}

export interface Scheduling {
  /** Stops taking firings and reconciling; resolves when in-flight ones have finished. */
  drain(): Promise<void>;
  /** Closes connections (after drain). */
  release(): Promise<void>;
}

export async function startScheduling(options: SchedulingOptions): Promise<Scheduling> {
  const log = options.log.child({ component: "scheduling" });
  // Firings are batched (one statement per batch), so 4 connections carry thousands of firings
  // a second; more would only add load on the metadata database when thousands share a minute.
  const db = createDb(options.databaseUrl, { maxConnections: 4 });
  const redis = { url: options.redisUrl, prefix: options.prefix };
  // Producer side (enqueueing backup jobs, syncing schedulers, the reconcile lock): fails fast.
  const producer = createProducerConnection(redis);
  const backupQueue = createBackupQueue(producer, options.prefix);
  const scheduleQueue = createScheduleQueue(producer, options.prefix);
  const deps = { db, backupQueue, catchUpHours: options.catchUpHours };
  // Firings that arrive within 10 ms of each other, or while 3 batches are in flight, share one
  // statement (up to 500); the pool (4) keeps a connection for the reconciler.
  const batcher = new FireBatcher({ fire: (ids) => fireSchedules(deps, ids), maxBatch: 500, lingerMs: 10, maxInFlight: 3 });

  const processor = async (job: Job<ScheduleFirePayload, void, string>): Promise<void> => {
    const payload = ScheduleFirePayload.safeParse(job.data);
    if (!payload.success) throw new UnrecoverableError("malformed schedule firing payload");
    const result = await batcher.submit(payload.data.scheduleId);
    const fields = { schedule_id: payload.data.scheduleId, due_at: "dueAt" in result ? result.dueAt?.toISOString() : undefined };
    // Debug: thousands of these may share a minute; the job rows are the record.
    if (result.outcome === "created") log.debug({ ...fields, job_id: result.jobId }, "scheduled backup job created");
    else if (result.outcome === "exists") log.debug({ ...fields, job_id: result.jobId }, "duplicate firing: the job exists");
    else log.info({ ...fields, reason: result.reason }, "schedule firing skipped");
  };
  // Blocking connection of its own (maxRetriesPerRequest: null), as BullMQ requires.
  const connection = createWorkerConnection(redis);
  const worker = new Worker<ScheduleFirePayload, void, string>(SCHEDULE_QUEUE, processor, {
    connection,
    prefix: options.prefix,
    concurrency: options.fireConcurrency,
    name: options.workerId,
  });
  worker.on("error", (err) => log.error({ err }, "schedule worker error"));
  worker.on("failed", (job, err) => log.warn({ schedule_job: job?.id, error: err.message }, "schedule firing failed"));
  await worker.waitUntilReady();

  const reconciler = startScheduleReconciler({
    db,
    scheduleQueue,
    backupQueue,
    catchUpHours: options.catchUpHours,
    log,
    redis: producer,
    prefix: options.prefix,
    holder: options.workerId,
    intervalMs: options.reconcileIntervalMs,
  });

  return {
    async drain() {
      await Promise.all([worker.close(), reconciler.stop()]);
    },
    async release() {
      await scheduleQueue.close().catch(() => {});
      await backupQueue.close().catch(() => {});
      producer.disconnect();
      connection.disconnect();
      await db.$disconnect();
    },
  };
}

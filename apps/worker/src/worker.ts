// The BullMQ worker: takes jobs from the backup queue, validates the payload (a pointer to the
// job row) and hands each job to its kind's handler in the job catalogue.

import { BACKUP_QUEUE, JobPayload } from "@capy/contracts";
import type { Db } from "@capy/db";
import { failUnclaimed } from "@capy/jobs";
import type { LeaseWaiters } from "@capy/queue";
import { DelayedError, type Job, UnrecoverableError, WaitingError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { entryFor, type WorkerCatalogue } from "./catalogue.js";
import { AttemptCanceledError, ResourceBusyError, ShutdownInterruptError } from "./failures/errors.js";
import type { Logger } from "./logger.js";
import type { WorkerMetrics } from "./metrics.js";

export type BackupWorker = Worker<JobPayload, void, string>;

export interface JobWorkerOptions {
  /** A connection of its own, with maxRetriesPerRequest: null (createWorkerConnection). */
  connection: Redis;
  /** BullMQ key prefix, shared with the API's queue. */
  prefix: string;
  concurrency: number;
  workerId: string;
  catalogue: WorkerCatalogue;
  db: Db;
  log: Logger;
  /** Counts job outcomes when given. */
  metrics?: WorkerMetrics;
  /** Where a job that finds its lease taken registers, to be woken when it is given back. */
  waiters?: LeaseWaiters;
  /**
   * BullMQ lock of a running job (ms; WORKER_LOCK_DURATION_MS), renewed every half of it. A job
   * whose worker died or is paused keeps its lock at most this long; then a stalled check (every
   * `stalledIntervalMs`, WORKER_STALLED_INTERVAL_MS, in every worker) hands it to another worker,
   * whose claim fences the lost attempt off. Takeover time: lockDurationMs + up to 2 x stalledIntervalMs.
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
}

/**
 * How often BullMQ may hand a stalled job out again before failing it. Each stall is a lost
 * attempt that Postgres counts (the claim bumps attempts); with 2, a job of max_attempts 3 gets
 * all its attempts through takeovers, and the claim itself fails the job (`worker_lost`) once its
 * last allowed attempt is lost. A larger value would only let BullMQ deliver a job Postgres has
 * already ended; a smaller one would fail jobs in BullMQ while Postgres still allows an attempt,
 * leaving the reconciler to re-enqueue them.
 */
export const MAX_STALLED_COUNT = 2;

/**
 * How long a job whose database lock or dump slot is taken waits before it is tried again (ms):
 * 1 s, growing by half with every consecutive wait up to 10 s, jittered by ±50 % so waiting jobs
 * do not retry in step. A job may wait for hours behind a long dump; this keeps its polling cheap.
 */
function busyRetryDelayMs(waits: number): number {
  const base = Math.min(BUSY_RETRY_MAX_MS, 1_000 * 1.5 ** waits);
  return Math.round(base * (0.5 + Math.random()));
}

/**
 * Longest pause between a waiting job's own retries (ms, before ±50 % jitter). Waiters are woken
 * when the lease they wait for is given back (LeaseWaiters); this retry is only the safety net for
 * a wake-up missed (a holder that died, a race), so it can be long, which keeps thousands of
 * waiting jobs from polling Redis and Postgres.
 */
const BUSY_RETRY_MAX_MS = 30_000;

/** Runs of this BullMQ job that ended neither in success nor in a counted failure: its waits (and stalls). */
function waitsSoFar(job: Job): number {
  return Math.max(0, (job.attemptsStarted ?? 1) - job.attemptsMade - 1);
}

export function createJobWorker(options: JobWorkerOptions): BackupWorker {
  const { catalogue, db, log, metrics } = options;

  // Three declared parameters: BullMQ passes an AbortSignal only to processors that take one.
  const processor = async (job: Job<JobPayload, void, string>, token?: string, signal?: AbortSignal): Promise<void> => {
    const jobLog = log.child({ job_id: job.id, job_type: job.name });
    const payload = JobPayload.safeParse(job.data);
    if (!payload.success) {
      jobLog.error("malformed job payload");
      throw new UnrecoverableError("malformed job payload");
    }
    const { jobId } = payload.data;
    const handler = entryFor(catalogue, job.name)?.handler;
    if (!handler) {
      const message = `this worker has no handler for ${job.name} jobs`;
      await failUnclaimed(db, jobId, message);
      jobLog.error(message);
      throw new UnrecoverableError(message);
    }

    const attempts = job.opts.attempts ?? 1;
    const startedAt = Date.now();
    const finalAttempt = job.attemptsMade + 1 >= attempts;
    // A job that waited for its database lock or a dump slot starts again and again: those re-runs log at debug.
    jobLog[waitsSoFar(job) === 0 ? "info" : "debug"]({ queue_attempt: job.attemptsMade + 1, max_attempts: attempts }, "job started");
    try {
      const result = await handler({
        jobId,
        log: jobLog,
        signal: signal ?? new AbortController().signal,
        finalAttempt,
      });
      metrics?.jobs.inc({ type: job.name, outcome: result === "ran" ? "completed" : "skipped" });
      // A skipped job's handler said why (its row had finished); it did not finish here.
      if (result === "ran") jobLog.info({ duration_ms: Date.now() - startedAt }, "job finished");
    } catch (error) {
      if (error instanceof ResourceBusyError && token) {
        // Wait, never reject: back to the queue, delayed, without using an attempt; the row stays as it is.
        await options.waiters?.wait(error.resource, job.id!).catch(() => {});
        await job.moveToDelayed(Date.now() + busyRetryDelayMs(waitsSoFar(job)), token);
        // Debug: a job may wait like this for hours (a long dump of its database).
        jobLog.debug({ resource: error.resource }, "waiting: the database's lock or the cluster's dump slots are taken");
        throw new DelayedError();
      }
      if (error instanceof AttemptCanceledError) {
        metrics?.jobs.inc({ type: job.name, outcome: "canceled" });
        throw new UnrecoverableError(error.message);
      }
      const outcome = error instanceof ShutdownInterruptError ? "interrupted" : error instanceof UnrecoverableError || finalAttempt ? "failed" : "retrying";
      metrics?.jobs.inc({ type: job.name, outcome });
      if (error instanceof ShutdownInterruptError && token) {
        // Back to the queue without using up an attempt: being interrupted is not a failure.
        await job.moveToWait(token);
        jobLog.warn({ duration_ms: Date.now() - startedAt }, "job interrupted by shutdown; returned to the queue");
        throw new WaitingError();
      }
      // Handlers redact what they throw; the message is safe to log.
      jobLog.warn({ duration_ms: Date.now() - startedAt, error: error instanceof Error ? error.message : String(error) }, "job attempt failed");
      throw error;
    }
  };

  const worker: BackupWorker = new Worker(BACKUP_QUEUE, processor, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    name: options.workerId,
    ...(options.lockDurationMs === undefined ? {} : { lockDuration: options.lockDurationMs }),
    ...(options.stalledIntervalMs === undefined ? {} : { stalledInterval: options.stalledIntervalMs }),
    maxStalledCount: MAX_STALLED_COUNT,
  });
  worker.on("error", (error) => log.error({ err: error }, "worker error"));
  worker.on("stalled", (jobId) => log.warn({ job_id: jobId }, "job stalled; BullMQ returned it to the queue"));
  worker.on("lockRenewalFailed", (jobIds) => log.warn({ job_ids: jobIds }, "could not renew job locks"));
  return worker;
}

// The BullMQ worker: takes jobs from the backup queue, validates the payload (a pointer to the
// job row) and hands each job to the handler for its type.
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { BACKUP_QUEUE, JobPayload } from "@capy/contracts";
import type { Db } from "@capy/db";
import { ShutdownInterruptError } from "./failures/errors.js";
import { handlerFor, type HandlerTable } from "./handlers/index.js";
import { failUnclaimed } from "./jobs/attempt.js";
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
  handlers: HandlerTable;
  db: Db;
  log: Logger;
  /** Counts job outcomes when given. */
  metrics?: WorkerMetrics;
}

export function createJobWorker(options: JobWorkerOptions): BackupWorker {
  const { handlers, db, log, metrics } = options;

  // Three declared parameters: BullMQ passes an AbortSignal only to processors that take one.
  const processor = async (job: Job<JobPayload, void, string>, token?: string, signal?: AbortSignal): Promise<void> => {
    const jobLog = log.child({ job_id: job.id, job_type: job.name });
    const payload = JobPayload.safeParse(job.data);
    if (!payload.success) {
      jobLog.error("malformed job payload");
      throw new UnrecoverableError("malformed job payload");
    }
    const { jobId } = payload.data;
    const handler = handlerFor(handlers, job.name);
    if (!handler) {
      const message = `this worker has no handler for ${job.name} jobs`;
      await failUnclaimed(db, jobId, message);
      jobLog.error(message);
      throw new UnrecoverableError(message);
    }

    const attempts = job.opts.attempts ?? 1;
    const startedAt = Date.now();
    const finalAttempt = job.attemptsMade + 1 >= attempts;
    jobLog.info({ queue_attempt: job.attemptsMade + 1, max_attempts: attempts }, "job started");
    try {
      await handler({
        jobId,
        log: jobLog,
        signal: signal ?? new AbortController().signal,
        finalAttempt,
      });
      metrics?.jobs.inc({ type: job.name, outcome: "completed" });
      jobLog.info({ duration_ms: Date.now() - startedAt }, "job finished");
    } catch (error) {
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
  });
  worker.on("error", (error) => log.error({ err: error }, "worker error"));
  worker.on("stalled", (jobId) => log.warn({ job_id: jobId }, "job stalled; BullMQ returned it to the queue"));
  worker.on("lockRenewalFailed", (jobIds) => log.warn({ job_ids: jobIds }, "could not renew job locks"));
  return worker;
}

// What every job handler does around its own work: load the job row, skip finished jobs, claim
// it (fencing token), heartbeat while the work runs, and record a failure with the retry
// decision BullMQ needs.
import { UnrecoverableError } from "bullmq";
import { TERMINAL_JOB_STATES, type JobState, type JobType } from "@capy/contracts";
import type { Db, Job } from "@capy/db";
import { ShutdownInterruptError } from "../failures/errors.js";
import { describeFailure } from "../failures/report.js";
import { claimJob, failAttempt, type Attempt } from "../jobs/attempt.js";
import { startHeartbeat } from "../jobs/heartbeat.js";
import type { JobContext } from "./handler.js";

export interface AttemptContext extends JobContext {
  /** Stops the work: the worker is shutting down (`signal`) or the attempt lost the job. */
  stop: AbortSignal;
}

export interface ClaimDependencies {
  db: Db;
  workerId: string;
  heartbeatIntervalMs: number;
}

export async function runClaimed(
  deps: ClaimDependencies,
  context: JobContext,
  type: JobType,
  work: (job: Job, attempt: Attempt, context: AttemptContext) => Promise<void>,
): Promise<void> {
  const { jobId, log } = context;
  const job = await deps.db.job.findUnique({ where: { id: jobId } });
  if (!job) throw new UnrecoverableError(`job ${jobId} has no row in Postgres`);
  if (job.type !== type) throw new UnrecoverableError(`job ${jobId} is a ${job.type} job, not a ${type}`);
  // BullMQ delivers at least once: a redelivered finished job is a no-op.
  if (TERMINAL_JOB_STATES.includes(job.state as JobState)) {
    log.info({ state: job.state }, "job already finished; nothing to do");
    return;
  }
  const attempt = await claimJob(deps.db, jobId, deps.workerId);
  if (!attempt) {
    log.info("job finished before it could be claimed; nothing to do");
    return;
  }
  log.info({ attempt: attempt.number, fencing_token: attempt.fencingToken }, "job claimed");
  const lost = new AbortController();
  const stopHeartbeat = startHeartbeat(deps.db, attempt, { intervalMs: deps.heartbeatIntervalMs, log, onLost: () => lost.abort() });
  try {
    await work(job, attempt, { ...context, stop: AbortSignal.any([context.signal, lost.signal]) });
  } finally {
    stopHeartbeat();
  }
}

/**
 * Records the failed attempt on the job row, then throws what tells BullMQ whether to retry.
 * When `backupId` is given (the failure happened while verifying that backup) and the failure is
 * final, the backup's verification is recorded as failed with the same message.
 */
export async function recordFailure(
  db: Db,
  attempt: Attempt,
  error: unknown,
  secrets: ReadonlyArray<string | null>,
  context: JobContext,
  backupId: string | null = null,
): Promise<void> {
  const interrupted = error instanceof ShutdownInterruptError;
  const report = describeFailure(error, secrets);
  const retryable = report.classification === "transient";
  // A shutdown does not use up an attempt (the job goes back to the queue), so it is never final.
  const terminal = !retryable || (context.finalAttempt && !interrupted);
  if (!(await failAttempt(db, attempt, report, terminal))) {
    context.log.warn({ fencing_token: attempt.fencingToken, error: report.message }, "attempt no longer owns the job; its failure was not recorded");
    return;
  }
  if (terminal && backupId && !interrupted) {
    await db.backup.update({ where: { id: backupId }, data: { verificationState: "failed", verificationError: report.message, verifiedAt: null } });
  }
  context.log.warn(
    { error: report.message, exit_code: report.exitCode, retry_classification: report.classification, terminal, backup_id: backupId ?? undefined },
    terminal ? "job failed" : "job attempt failed; the job will run again",
  );
  if (interrupted) throw error;
  if (!retryable) throw new UnrecoverableError(report.message);
  throw new Error(report.message);
}

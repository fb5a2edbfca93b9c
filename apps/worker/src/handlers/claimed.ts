// What every job handler does around its own work: load the job row, skip finished jobs, take
// the job's leases (its database lock and, for dumps, a slot of its cluster) BEFORE claiming it,
// claim it (fencing token), heartbeat and renew the leases while the work runs, and record a
// failure with the retry decision BullMQ needs. A claim that takes over a lost attempt records
// `worker_lost` and removes what that attempt left; a requested cancel ends the job `canceled`.

import { type JobState, type JobType, TERMINAL_JOB_STATES } from "@capy/contracts";
import type { Db, Job } from "@capy/db";
import { type Attempt, cancelAttempt, claimJob, failAttempt, failLostJob, jobKind } from "@capy/jobs";
import type { LeaseSemaphore, LeaseWaiters } from "@capy/queue";
import { UnrecoverableError } from "bullmq";
import { retryOnDisconnect } from "../attempts/db-retry.js";
import { startHeartbeat } from "../attempts/heartbeat.js";
import { acquireLeases, dumpSlotResource, type HeldLeases } from "../attempts/leases.js";
import { AttemptCanceledError, LeaseLostError, ShutdownInterruptError } from "../failures/errors.js";
import { describeFailure } from "../failures/report.js";
import type { Logger } from "../logger.js";
import type { HandlerResult, JobContext, JobRuntime } from "./handler.js";

export interface AttemptContext extends JobContext {
  /** Stops the work: the worker is shutting down (`signal`), the attempt lost the job or a lease, or its cancel was requested. */
  stop: AbortSignal;
  /** Aborted once the job's cancel was requested. */
  canceled?: AbortSignal;
  /** Aborted once a lease of the attempt went to another holder. */
  leaseLost?: AbortSignal;
  /** Gives the cluster's dump slot back (pg_dump has ended); a no-op without one. */
  releaseDumpSlot?: () => Promise<void>;
  /** The row's max_attempts: an attempt whose number reaches it is final. */
  maxAttempts?: number;
}

export interface LeaseSettings {
  semaphore: LeaseSemaphore;
  /** Lease length (ms): WORKER_LOCK_DURATION_MS, like the BullMQ lock. */
  leaseMs: number;
  /** Dump slots per cluster (DUMP_CONCURRENCY_PER_CLUSTER). */
  dumpConcurrencyPerCluster: number;
  /** Jobs waiting for a lease: a released lease wakes the longest waiter. */
  waiters?: LeaseWaiters;
}

export interface ClaimDependencies {
  db: Db;
  workerId: string;
  heartbeatIntervalMs: number;
  /** The database lock and dump slots; without it (tests of one worker) no leases are taken. */
  leases?: LeaseSettings | undefined;
}

/** The kind's storage hooks (its catalogue entry's): run once the row change they follow committed. */
export type ClaimHooks = Pick<JobRuntime, "afterCancel" | "afterWorkerLost" | "beforeLeases">;

export async function runClaimed(
  deps: ClaimDependencies,
  context: JobContext,
  type: JobType,
  work: (job: Job, attempt: Attempt, context: AttemptContext) => Promise<void>,
  hooks: ClaimHooks,
): Promise<HandlerResult> {
  const { jobId, log } = context;
  const job = await retryOnDisconnect(() => deps.db.job.findUnique({ where: { id: jobId } }), { log, what: "load job" });
  if (!job) throw new UnrecoverableError(`job ${jobId} has no row in Postgres`);
  if (job.type !== type) throw new UnrecoverableError(`job ${jobId} is a ${job.type} job, not a ${type}`);
  // BullMQ delivers at least once: a redelivered finished job is a no-op.
  if (TERMINAL_JOB_STATES.includes(job.state as JobState)) {
    log.info({ state: job.state }, "job already finished; nothing to do");
    return "skipped";
  }

  await hooks.beforeLeases?.(job);
  // Leases before the claim: a job that has to wait is not claimed, so it uses no attempt and its
  // row stays as it is. ResourceBusyError sends it back to the queue, delayed.
  let leases: HeldLeases | undefined;
  let dumpSlot: string | undefined;
  if (deps.leases) {
    const resources = [{ resource: job.lockedResource, capacity: 1 }];
    // A canceled job only needs its database lock (to be sure the lost attempt is gone), not a dump slot.
    if (jobKind(type).dumpSlot && !job.cancelRequestedAt) {
      dumpSlot = dumpSlotResource(job.clusterId);
      resources.push({ resource: dumpSlot, capacity: deps.leases.dumpConcurrencyPerCluster });
    }
    const waiters = deps.leases.waiters;
    leases = await acquireLeases(deps.leases.semaphore, {
      resources,
      workerId: deps.workerId,
      jobId,
      leaseMs: deps.leases.leaseMs,
      log,
      onReleased: async (resource) => {
        const woken = await waiters?.wakeOne(resource).catch(() => null);
        if (woken) log.debug({ resource, woken }, "woke the longest waiter for a released lease");
      },
    });
    await waiters
      ?.stopWaiting(
        resources.map((entry) => entry.resource),
        jobId,
      )
      .catch(() => {});
  }
  try {
    // The running attempt was the last one allowed and its worker is gone (BullMQ only hands a
    // running job out again once its holder lost the lock): a job that keeps losing its workers
    // (e.g. one that gets them killed) fails rather than running forever.
    if (job.state === "running" && !job.cancelRequestedAt && job.attempts >= job.maxAttempts) {
      if (await retryOnDisconnect(() => failLostJob(deps.db, job), { log, what: "fail lost job" })) {
        // The kind's onWorkerLost hook ran in failLostJob's transaction; storage is settled now.
        await hooks.afterWorkerLost(job, job.fencingToken + 1, log);
        log.error({ attempts: job.attempts, max_attempts: job.maxAttempts, retry_classification: "worker_lost" }, "job failed: its last attempt was lost");
        throw new UnrecoverableError(`attempt ${job.attempts} was lost and no attempts are left`);
      }
      log.info("job changed before it could be failed; nothing to do");
      return "skipped";
    }

    const attempt = await retryOnDisconnect(() => claimJob(deps.db, jobId, deps.workerId), { log, what: "claim" });
    if (!attempt) {
      log.info("job finished before it could be claimed; nothing to do");
      return "skipped";
    }
    if (attempt.cancelRequested) {
      log.info({ fencing_token: attempt.fencingToken }, "job claimed with its cancel already requested; not running it");
      await finishCanceled(deps, job, attempt, hooks, log);
      throw new AttemptCanceledError();
    }
    log.info({ attempt: attempt.number, fencing_token: attempt.fencingToken, took_over: attempt.tookOver }, "job claimed");
    if (attempt.tookOver) log.warn({ attempt: attempt.number, retry_classification: "worker_lost" }, "took over a job whose previous attempt was lost");
    // Tokens start at 0 and every claim bumps it: a first claim (token 1) has nothing earlier to clean.
    if (attempt.fencingToken > 1) await hooks.afterWorkerLost(job, attempt.fencingToken, log);

    const lost = new AbortController();
    const canceled = new AbortController();
    const leaseLost = new AbortController();
    leases?.onLost(() => leaseLost.abort());
    const stopHeartbeat = startHeartbeat(deps.db, attempt, {
      intervalMs: deps.heartbeatIntervalMs,
      log,
      onLost: () => lost.abort(),
      onCancel: () => canceled.abort(),
    });
    try {
      await work(job, attempt, {
        ...context,
        maxAttempts: job.maxAttempts,
        stop: AbortSignal.any([context.signal, lost.signal, canceled.signal, leaseLost.signal]),
        canceled: canceled.signal,
        leaseLost: leaseLost.signal,
        releaseDumpSlot: async () => {
          if (dumpSlot) await leases?.release(dumpSlot);
        },
      });
    } catch (error) {
      if (!(error instanceof AttemptCanceledError)) throw error;
      await finishCanceled(deps, job, attempt, hooks, log);
      throw error;
    } finally {
      stopHeartbeat();
    }
    return "ran";
  } finally {
    // On every way out (done, failed, canceled, interrupted by a shutdown): the leases go back.
    await leases?.releaseAll();
  }
}

/** Writes `canceled` (fenced, with the kind's onCancel hook and job.canceled), then settles storage. */
async function finishCanceled(deps: ClaimDependencies, job: Job, attempt: Attempt, hooks: ClaimHooks, log: Logger): Promise<void> {
  const recordedKeys = await retryOnDisconnect(() => cancelAttempt(deps.db, attempt), { log, what: "cancel" });
  if (recordedKeys === null) {
    log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its cancel was not recorded");
    return;
  }
  // Rows first, artifacts second: a backup row never points at a missing artifact.
  await hooks.afterCancel(job, recordedKeys, log);
  log.info({ retry_classification: "canceled", removed_backups: recordedKeys.length }, "job canceled by request");
}

/** What a stopped attempt reports instead of the error its stopped child raised. */
export function interruptionOr(context: AttemptContext, error: unknown): unknown {
  if (context.canceled?.aborted) return new AttemptCanceledError();
  if (context.signal.aborted) return new ShutdownInterruptError();
  if (context.leaseLost?.aborted && !(error instanceof LeaseLostError)) return new LeaseLostError("a lease of the attempt");
  return error;
}

/**
 * Records the failed attempt on the job row, then throws what tells BullMQ whether to retry.
 * When `backupId` is given (the failure happened while verifying that backup) and the failure is
 * final, the backup's verification is recorded as failed with the same message. A failure of an
 * attempt whose cancel was requested is not recorded: AttemptCanceledError is thrown instead.
 */
export async function recordFailure(
  db: Db,
  attempt: Attempt,
  error: unknown,
  secrets: ReadonlyArray<string | null>,
  context: AttemptContext,
  backupId: string | null = null,
): Promise<void> {
  if (error instanceof AttemptCanceledError || context.canceled?.aborted) throw new AttemptCanceledError();
  const interrupted = error instanceof ShutdownInterruptError;
  const report = describeFailure(error, secrets);
  const retryable = report.classification === "transient";
  // A shutdown does not use up an attempt (the job goes back to the queue), so it is never final.
  // Attempts are counted on the row too: takeovers use attempts BullMQ does not count.
  const finalAttempt = context.finalAttempt || attempt.number >= (context.maxAttempts ?? Number.POSITIVE_INFINITY);
  const terminal = !retryable || (finalAttempt && !interrupted);
  // A final failure while verifying records the backup's verification failed in the same transaction.
  const verifying = interrupted ? null : backupId;
  if (!(await retryOnDisconnect(() => failAttempt(db, attempt, report, terminal, verifying), { log: context.log, what: "record failure" }))) {
    context.log.warn({ fencing_token: attempt.fencingToken, error: report.message }, "attempt no longer owns the job; its failure was not recorded");
    return;
  }
  context.log.warn(
    { error: report.message, exit_code: report.exitCode, retry_classification: report.classification, terminal, backup_id: backupId ?? undefined },
    terminal ? "job failed" : "job attempt failed; the job will run again",
  );
  if (interrupted) throw error;
  if (terminal) throw new UnrecoverableError(report.message);
  throw new Error(report.message);
}

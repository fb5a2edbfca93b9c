// The `backup` job: claim the job row, pg_dump the project's database into storage, then record
// the backup and complete the job in one transaction. The artifact is stored before its row
// exists, so a backup row never points at a missing artifact; a failed or stale attempt removes
// whatever it stored.
import { UnrecoverableError } from "bullmq";
import { TERMINAL_JOB_STATES, type JobState } from "@capy/contracts";
import { newId, type Db, type Job } from "@capy/db";
import { backupArtifactKey, type ArtifactStorage } from "@capy/storage";
import { ShutdownInterruptError, StaleAttemptError } from "../failures/errors.js";
import { describeFailure } from "../failures/report.js";
import { claimJob, completeAttempt, failAttempt, type Attempt } from "../jobs/attempt.js";
import { startHeartbeat } from "../jobs/heartbeat.js";
import type { Logger } from "../logger.js";
import { dumpToStorage } from "../postgres/pg-dump.js";
import { loadDumpTarget } from "../postgres/target.js";
import type { ProcessRunner } from "../process/run.js";
import { redactSecrets } from "../redact.js";
import type { JobContext, JobHandler } from "./handler.js";

export interface BackupDependencies {
  db: Db;
  storage: ArtifactStorage;
  runner: ProcessRunner;
  /** Absolute path of pg_dump. */
  pgDump: string;
  /** Recorded as claimed_by. */
  workerId: string;
  /** Decrypts project passwords; only needed for projects that have one. */
  encryptionKey: string | undefined;
  /** Between heartbeats (ms). */
  heartbeatIntervalMs: number;
}

export function createBackupHandler(deps: BackupDependencies): JobHandler {
  return async (context) => {
    const { jobId, log } = context;
    const job = await deps.db.job.findUnique({ where: { id: jobId } });
    if (!job) throw new UnrecoverableError(`job ${jobId} has no row in Postgres`);
    if (job.type !== "backup") throw new UnrecoverableError(`job ${jobId} is a ${job.type} job, not a backup`);
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
      await runAttempt(deps, job, attempt, { ...context, stop: AbortSignal.any([context.signal, lost.signal]) });
    } finally {
      stopHeartbeat();
    }
  };
}

interface AttemptContext extends JobContext {
  /** Stops pg_dump: the worker is shutting down (`signal`) or the attempt lost the job. */
  stop: AbortSignal;
}

async function runAttempt(deps: BackupDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<void> {
  const { log } = context;
  const backupId = newId("bkp");
  const key = backupArtifactKey(job.projectId, backupId);
  let password: string | null = null;
  try {
    const target = await loadDumpTarget(deps.db, job.projectId, deps.encryptionKey);
    password = target.password;
    const { stored, stderrTail } = await dumpToStorage({ runner: deps.runner, pgDump: deps.pgDump, target, storage: deps.storage, key, signal: context.stop });
    await deps.db.$transaction(async (tx) => {
      await completeAttempt(tx, attempt, { stderr: redactSecrets(stderrTail, [password]), stdout: null });
      await tx.backup.create({
        data: {
          id: backupId,
          organizationId: job.organizationId,
          projectId: job.projectId,
          jobId: job.id,
          scheduleId: job.scheduleId,
          databaseName: target.database,
          label: job.label,
          backupKey: key,
          sizeBytes: BigInt(stored.sizeBytes),
          sha256: stored.sha256,
          state: "completed",
          verificationState: "pending",
        },
      });
    });
    log.info({ backup_id: backupId, backup_key: key, size_bytes: stored.sizeBytes, sha256: stored.sha256 }, "backup completed");
  } catch (error) {
    await removeArtifact(deps.storage, key, log);
    if (error instanceof StaleAttemptError) {
      log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its backup was discarded");
      return;
    }
    await recordFailure(deps.db, attempt, context.signal.aborted ? new ShutdownInterruptError() : error, password, context);
  }
}

/** Records the failed attempt on the job row, then throws what tells BullMQ whether to retry. */
async function recordFailure(db: Db, attempt: Attempt, error: unknown, password: string | null, context: JobContext): Promise<void> {
  const interrupted = error instanceof ShutdownInterruptError;
  const report = describeFailure(error, [password]);
  // A shutdown does not use up an attempt (the job goes back to the queue), so it is never final.
  const terminal = report.classification === "permanent" || (context.finalAttempt && !interrupted);
  if (!(await failAttempt(db, attempt, report, terminal))) {
    context.log.warn({ fencing_token: attempt.fencingToken, error: report.message }, "attempt no longer owns the job; its failure was not recorded");
    return;
  }
  context.log.warn(
    { error: report.message, exit_code: report.exitCode, retry_classification: report.classification, terminal },
    terminal ? "backup failed" : "backup attempt failed; the job will run again",
  );
  if (interrupted) throw error;
  if (report.classification === "permanent") throw new UnrecoverableError(report.message);
  throw new Error(report.message);
}

async function removeArtifact(storage: ArtifactStorage, key: string, log: Logger): Promise<void> {
  try {
    await storage.delete(key);
  } catch (error) {
    // Nothing refers to it, so it is an orphan for a storage sweep, never a visible backup.
    log.error({ err: error, backup_key: key }, "could not remove the artifact of a failed attempt");
  }
}

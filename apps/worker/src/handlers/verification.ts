// The verification step shared by `backup` jobs (right after the artifact is recorded) and
// `verify` jobs (re-verifying an existing backup): restore and compare, then complete the job and
// mark the backup verified in one transaction, or record the failure on both.
import type { Backup, Db, Job } from "@capy/db";
import { AttemptCanceledError, StaleAttemptError } from "../failures/errors.js";
import { completeAttempt, type Attempt } from "../jobs/attempt.js";
import { retryOnDisconnect } from "../jobs/db-retry.js";
import type { WorkerMetrics } from "../metrics.js";
import type { Inventory } from "../postgres/inventory.js";
import { redactSecrets } from "../redact.js";
import type { Verifier } from "../verify/verifier.js";
import { interruptionOr, recordFailure, type AttemptContext } from "./claimed.js";

export interface VerificationDependencies {
  db: Db;
  verifier: Verifier;
  /** Counts verification outcomes when given. */
  metrics?: WorkerMetrics;
  /** Runs after a scheduled backup's job is recorded completed (the retention sweep); must not throw. */
  afterScheduledBackup?: (projectId: string) => Promise<void>;
}

export async function verifyAndComplete(
  deps: VerificationDependencies,
  job: Job,
  attempt: Attempt,
  backup: Backup,
  reference: Inventory,
  context: AttemptContext,
  /** Output of earlier steps of this attempt (pg_dump's stderr), kept on the job row. */
  earlierStderr = "",
): Promise<void> {
  const { log } = context;
  try {
    const result = await deps.verifier.verify({
      jobId: job.id,
      clusterId: job.clusterId,
      artifact: backup,
      reference,
      signal: context.stop,
      log,
    });
    const stderr = [earlierStderr, result.pgRestoreStderr].filter(Boolean).join("\n");
    const verifiedAt = new Date();
    await retryOnDisconnect(
      () =>
        deps.db.$transaction(async (tx) => {
          await completeAttempt(tx, attempt, { stderr: redactSecrets(stderr), stdout: null });
          await tx.backup.update({ where: { id: backup.id }, data: { verificationState: "verified", verificationError: null, verifiedAt, archiveSizeBytes: BigInt(result.sizeBytes) } });
        }),
      { log, what: "complete" },
    );
    deps.metrics?.verifications.inc({ outcome: "verified" });
    log.info(
      { backup_id: backup.id, size_bytes: result.sizeBytes, restore_ms: result.restoreMs, verify_ms: result.totalMs },
      "backup verified: it restores to what the source held",
    );
    if (job.type === "backup" && job.scheduleId) await deps.afterScheduledBackup?.(job.projectId).catch((err: unknown) => log.warn({ err }, "retention after a scheduled backup failed"));
  } catch (error) {
    if (error instanceof StaleAttemptError) {
      log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its verification was not recorded");
      return;
    }
    if (error instanceof AttemptCanceledError) throw error;
    deps.metrics?.verifications.inc({ outcome: context.stop.aborted ? "interrupted" : "failed" });
    await recordFailure(deps.db, attempt, interruptionOr(context, error), [], context, backup.id);
  }
}

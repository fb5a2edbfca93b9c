// The verification step shared by `backup` jobs (right after the artifact is recorded) and
// `verify` jobs (re-verifying an existing backup): restore and compare, then complete the job and
// mark the backup verified in one transaction, or record the failure on both.
import type { Backup, Db, Job } from "@capy/db";
import { type Attempt, completeAttempt, recordVerified } from "@capy/jobs";
import { retryOnDisconnect } from "../attempts/db-retry.js";
import { AttemptCanceledError, StaleAttemptError } from "../failures/errors.js";
import type { WorkerMetrics } from "../metrics.js";
import type { Inventory } from "../postgres/inventory.js";
import { redactSecrets } from "../redact.js";
import { Cleanups } from "../verify/cleanups.js";
import type { Verifier } from "../verify/verifier.js";
import { type AttemptContext, interruptionOr, recordFailure } from "./claimed.js";

export interface VerificationDependencies {
  db: Db;
  verifier: Verifier;
  /** Counts verification outcomes when given. */
  metrics?: WorkerMetrics;
}

/** What the verified backup means to the job that verified it (its handler decides). */
export interface VerifiedOutcome {
  /** Announce the backup (backup.completed): a backup job's own new backup, not a re-verification. */
  announce: boolean;
  /** Runs after the job is recorded completed (e.g. the retention sweep); its failure is logged. */
  afterCompleted?: (() => Promise<void>) | undefined;
}

export async function verifyAndComplete(
  deps: VerificationDependencies,
  job: Job,
  attempt: Attempt,
  backup: Backup,
  reference: Inventory | Promise<Inventory>,
  context: AttemptContext,
  outcome: VerifiedOutcome,
  /** Output of earlier steps of this attempt (pg_dump's stderr), kept on the job row. */
  earlierStderr = "",
): Promise<void> {
  // The throwaway database is dropped (and the rest undone) only once the verdict is recorded,
  // whatever it is: the job's completion does not wait for the DROP.
  const cleanups = new Cleanups(context.log);
  let completed = false;
  try {
    completed = await verifyAndRecord(deps, job, attempt, backup, reference, context, cleanups, outcome.announce, earlierStderr);
  } finally {
    await cleanups.run();
  }
  if (completed) await outcome.afterCompleted?.().catch((err: unknown) => context.log.warn({ err }, "work after the completed job failed"));
}

/** Verifies and records the verdict on the job and the backup; true when the job completed. */
async function verifyAndRecord(
  deps: VerificationDependencies,
  job: Job,
  attempt: Attempt,
  backup: Backup,
  reference: Inventory | Promise<Inventory>,
  context: AttemptContext,
  cleanups: Cleanups,
  announce: boolean,
  earlierStderr: string,
): Promise<boolean> {
  const { log } = context;
  try {
    const result = await deps.verifier.verify({
      jobId: job.id,
      clusterId: job.clusterId,
      artifact: backup,
      reference,
      signal: context.stop,
      log,
      cleanups,
    });
    const stderr = [earlierStderr, result.pgRestoreStderr].filter(Boolean).join("\n");
    const verifiedAt = new Date();
    await retryOnDisconnect(
      () =>
        deps.db.$transaction(async (tx) => {
          // The backup first: completeAttempt appends job.completed, and events come last.
          await recordVerified(tx, backup.id, verifiedAt, announce);
          await completeAttempt(tx, attempt, { stderr: redactSecrets(stderr), stdout: null });
          // What a default download of it delivers, learned here: verification decodes it all.
          await tx.backup.update({ where: { id: backup.id }, data: { archiveSizeBytes: BigInt(result.sizeBytes) } });
        }),
      { log, what: "complete" },
    );
    deps.metrics?.verifications.inc({ outcome: "verified" });
    log.info(
      { backup_id: backup.id, size_bytes: result.sizeBytes, restore_ms: result.restoreMs, verify_ms: result.totalMs },
      "backup verified: it restores to what the source held",
    );
    return true;
  } catch (error) {
    if (error instanceof StaleAttemptError) {
      log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its verification was not recorded");
      return false;
    }
    if (error instanceof AttemptCanceledError) throw error;
    deps.metrics?.verifications.inc({ outcome: context.stop.aborted ? "interrupted" : "failed" });
    await recordFailure(deps.db, attempt, interruptionOr(context, error), [], context, backup.id);
    return false;
  }
}

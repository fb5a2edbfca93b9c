// The `backup` job: claim the job row; open a REPEATABLE READ transaction on the source that
// exports its snapshot; pg_dump the project's database in that snapshot into storage while the
// same transaction counts what the snapshot holds (the source inventory); record the backup
// (verification pending); then verify it by a real restore, and only then complete the job.
// The artifact is stored before its row exists, so a backup row never points at a missing
// artifact; a failed or stale dump removes whatever it stored. A retried job whose backup is
// already recorded goes straight to verification.
import type { Backup, Job, Prisma } from "@capy/db";
import { newId } from "@capy/db";
import { backupArtifactKey, type ArtifactStorage } from "@capy/storage";
import { ConfigurationError, ShutdownInterruptError, StaleAttemptError } from "../failures/errors.js";
import { ownedBy, progressRecorder, setPhase, type Attempt } from "../jobs/attempt.js";
import type { Logger } from "../logger.js";
import type { WorkerMetrics } from "../metrics.js";
import { Inventory } from "../postgres/inventory.js";
import { dumpToStorage } from "../postgres/pg-dump.js";
import { openSourceSnapshot } from "../postgres/session.js";
import { loadDumpTarget } from "../postgres/target.js";
import type { ProcessRunner } from "../process/run.js";
import { redactSecrets } from "../redact.js";
import { recordFailure, runClaimed, type AttemptContext } from "./claimed.js";
import type { JobHandler } from "./handler.js";
import { verifyAndComplete } from "./verification.js";
import type { VerifyDependencies } from "./verify.js";

/** What a backup needs beyond what verification needs (it verifies its own backup too). */
export interface BackupDependencies extends VerifyDependencies {
  storage: ArtifactStorage;
  runner: ProcessRunner;
  /** Absolute path of pg_dump. */
  pgDump: string;
  /** Decrypts project passwords; only needed for projects that have one. */
  encryptionKey: string | undefined;
  /** Dump durations and sizes, job and verification outcomes, when given. */
  metrics?: WorkerMetrics;
  /** After a scheduled backup's job is recorded completed: that project's retention sweep. */
  afterScheduledBackup?: (projectId: string) => Promise<void>;
}

export function createBackupHandler(deps: BackupDependencies): JobHandler {
  return (context) => runClaimed(deps, context, "backup", (job, attempt, attemptContext) => runAttempt(deps, job, attempt, attemptContext));
}

async function runAttempt(deps: BackupDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<void> {
  let backup = await deps.db.backup.findUnique({ where: { jobId: job.id } });
  let dumpStderr = "";
  if (backup) {
    context.log.info({ backup_id: backup.id }, "backup already recorded by an earlier attempt; verifying it");
    // A lost job is noticed (and nothing recorded) by the verification's own fenced writes.
    await setPhase(deps.db, attempt, "verifying", Number(backup.sizeBytes));
  } else {
    const dumped = await dumpAndRecord(deps, job, attempt, context);
    if (!dumped) return;
    ({ backup, stderr: dumpStderr } = dumped);
  }
  const reference = Inventory.safeParse(backup.sourceInventory);
  if (!reference.success) {
    await recordFailure(deps.db, attempt, new ConfigurationError(`backup ${backup.id} has no usable source inventory`), [], context, backup.id);
    return;
  }
  await verifyAndComplete(deps, job, attempt, backup, reference.data, context, dumpStderr);
}

/** Dumps in an exported snapshot and records the backup; null when the attempt lost the job. */
async function dumpAndRecord(deps: BackupDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<{ backup: Backup; stderr: string } | null> {
  const { log } = context;
  const backupId = newId("bkp");
  const key = backupArtifactKey(job.projectId, backupId);
  let password: string | null = null;
  try {
    const target = await loadDumpTarget(deps.db, job.projectId, deps.encryptionKey);
    password = target.password;
    const started = Date.now();
    if (!(await setPhase(deps.db, attempt, "dumping"))) throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
    const progress = progressRecorder(deps.db, attempt);
    const snapshot = await openSourceSnapshot(target).catch(async (sessionError: unknown) => {
      // pg_dump is what users read diagnostics from (exit code, stderr): when our snapshot
      // session cannot connect, let pg_dump try the same connection and report why it fails.
      // Should pg_dump succeed where the session failed, its artifact is discarded below and
      // the session's error decides the retry.
      await dumpToStorage({ runner: deps.runner, pgDump: deps.pgDump, target, storage: deps.storage, key, signal: context.stop });
      throw sessionError;
    });
    let inventory: Inventory;
    let dumped: Awaited<ReturnType<typeof dumpToStorage>>;
    let inventoryMs = 0;
    let dumpSeconds = 0;
    try {
      // Counting runs beside pg_dump, in the snapshot pg_dump imports, on the exporting session.
      const counting = snapshot.inventory().then((value) => {
        inventoryMs = Date.now() - started;
        return value;
      });
      const dumpStarted = Date.now();
      const dumping = dumpToStorage({
        runner: deps.runner,
        pgDump: deps.pgDump,
        target,
        storage: deps.storage,
        key,
        signal: context.stop,
        snapshot: snapshot.id,
        onProgress: (bytes) => progress.update(bytes),
      })
        .then((result) => {
          dumpSeconds = (Date.now() - dumpStarted) / 1_000;
          return result;
        })
        .finally(() => progress.flush());
      const [counted, dump] = await Promise.allSettled([counting, dumping]);
      if (dump.status === "rejected") throw dump.reason;
      if (counted.status === "rejected") throw counted.reason;
      inventory = counted.value;
      dumped = dump.value;
    } finally {
      // Only now, with pg_dump gone, may the snapshot's transaction end.
      await snapshot.close();
    }
    const { stored, stderrTail } = dumped;
    deps.metrics?.dumpDuration.observe(dumpSeconds);
    deps.metrics?.dumpBytes.observe(stored.sizeBytes);
    const stderr = redactSecrets(stderrTail, [password]);
    const backup = await deps.db.$transaction(async (tx) => {
      const { count } = await tx.job.updateMany({ where: ownedBy(attempt), data: { phase: "verifying", progressBytes: BigInt(stored.sizeBytes), lastStderr: stderr } });
      if (count === 0) throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
      return tx.backup.create({
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
          sourceInventory: inventory as unknown as Prisma.InputJsonValue,
        },
      });
    });
    log.info(
      {
        backup_id: backupId,
        backup_key: key,
        size_bytes: stored.sizeBytes,
        sha256: stored.sha256,
        dump_ms: Date.now() - started,
        inventory_ms: inventoryMs,
        tables: inventory.tables.length,
      },
      "backup stored and recorded; verifying it",
    );
    return { backup, stderr };
  } catch (error) {
    await removeArtifact(deps.storage, key, log);
    if (error instanceof StaleAttemptError) {
      log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its backup was discarded");
      return null;
    }
    await recordFailure(deps.db, attempt, context.signal.aborted ? new ShutdownInterruptError() : error, [password], context);
    return null;
  }
}

async function removeArtifact(storage: ArtifactStorage, key: string, log: Logger): Promise<void> {
  try {
    await storage.delete(key);
  } catch (error) {
    // Nothing refers to it, so it is an orphan for a storage sweep, never a visible backup.
    log.error({ err: error, backup_key: key }, "could not remove the artifact of a failed attempt");
  }
}

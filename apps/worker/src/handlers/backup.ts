// The `backup` job: claim the job row; open a REPEATABLE READ transaction on the source that
// exports its snapshot; pg_dump the project's database in that snapshot into storage while the
// same transaction counts what the snapshot holds (the source inventory); record the backup
// (verification pending); then verify it by a real restore, and only then complete the job.
// The artifact is stored before its row exists, so a backup row never points at a missing
// artifact; a failed or stale dump removes whatever it stored. A retried job whose backup is
// already recorded goes straight to verification.
import type { WritePlan } from "@capy/artifact";
import type { Backup, Db, EncryptionTargets, Job, Keyring, Prisma } from "@capy/db";
import { encryptionTargets, newId } from "@capy/db";
import { type Attempt, JOB_KINDS, progressRecorder, recordStep, setPhase } from "@capy/jobs";
import { type ArtifactStorage, attemptArtifactKey, attemptOfArtifactKey, jobArtifactPrefix } from "@capy/storage";
import { retryOnDisconnect } from "../attempts/db-retry.js";
import { discardJobArtifacts } from "../attempts/leftovers.js";
import { ConfigurationError, DumpTimeoutError, StaleAttemptError } from "../failures/errors.js";
import type { Logger } from "../logger.js";
import type { WorkerMetrics } from "../metrics.js";
import { Inventory } from "../postgres/inventory.js";
import { dumpToStorage, encodingColumns } from "../postgres/pg-dump.js";
import { endLostDumpSessions, openSourceSnapshot } from "../postgres/session.js";
import { loadDumpTarget } from "../postgres/target.js";
import type { ProcessRunner } from "../process/run.js";
import { redactSecrets } from "../redact.js";
import { type AttemptContext, interruptionOr, recordFailure, runClaimed } from "./claimed.js";
import type { JobRuntime } from "./handler.js";
import { verifyAndComplete } from "./verification.js";
import type { VerifyDependencies } from "./verify.js";

/** What a backup needs beyond what verification needs (it verifies its own backup too). */
export interface BackupDependencies extends VerifyDependencies {
  storage: ArtifactStorage;
  runner: ProcessRunner;
  /** Absolute path of pg_dump. */
  pgDump: string;
  /** How the archive is compressed and encrypted on its way to storage (BACKUP_COMPRESSION, BACKUP_ENCRYPTION; @capy/artifact). */
  writePlan: WritePlan;
  /** Opens project passwords; only needed for projects that have one. */
  keyring: Keyring | undefined;
  /** Dump durations and sizes, job and verification outcomes, when given. */
  metrics?: WorkerMetrics;
  /** After a scheduled backup's job is recorded completed: that project's retention sweep. */
  afterScheduledBackup?: (projectId: string) => Promise<void>;
  /** pg_dump is stopped after this long and the job fails with `timeout` (ms; DUMP_TIMEOUT_MS). */
  dumpTimeoutMs?: number;
}

export function createBackupRuntime(deps: BackupDependencies): JobRuntime {
  const hooks = {
    afterWorkerLost: (job: Job, belowToken: number, log: Logger) => discardEarlierAttempts(deps, job, belowToken, log),
    afterCancel: (job: Job, recordedKeys: string[], log: Logger) => discardJobArtifacts(deps.storage, job, recordedKeys, log),
  };
  return {
    ...hooks,
    handler: (context) => runClaimed(deps, context, "backup", (job, attempt, attemptContext) => runAttempt(deps, job, attempt, attemptContext), hooks),
  };
}

/**
 * Removes what attempts before `belowToken` left under the job's prefix: their artifacts (except
 * the one a recorded backup row points at, which the retry verifies) and their unfinished writes
 * (`.partial` files, incomplete multipart uploads), e.g. of an attempt whose worker was killed.
 * Those attempts are fenced off; any of them still alive removes its own artifact once it notices.
 */
async function discardEarlierAttempts(deps: BackupDependencies, job: Job, belowToken: number, log: Logger): Promise<void> {
  const prefix = jobArtifactPrefix(job.projectId, job.id);
  const earlier = (key: string) => {
    const token = attemptOfArtifactKey(key);
    return token !== null && token < belowToken;
  };
  try {
    const recorded = await deps.db.backup.findUnique({ where: { jobId: job.id }, select: { backupKey: true } });
    const removed: string[] = [];
    for await (const key of deps.storage.list(prefix)) {
      if (key === recorded?.backupKey || !earlier(key)) continue;
      await deps.storage.delete(key);
      removed.push(key);
    }
    const unfinished = (await deps.storage.discardIncomplete?.(prefix, earlier)) ?? [];
    if (removed.length + unfinished.length > 0) log.info({ removed, unfinished }, "removed what earlier attempts left in storage");
  } catch (error) {
    // Left for the storage sweep (by age); nothing refers to these keys.
    log.warn({ err: error instanceof Error ? error.message : String(error), prefix }, "could not remove what earlier attempts left in storage");
  }
}

async function runAttempt(deps: BackupDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<void> {
  // Only an earlier attempt (fencing token > 1: see runClaimed) can have recorded the backup.
  let backup = attempt.fencingToken > 1 ? await deps.db.backup.findUnique({ where: { jobId: job.id } }) : null;
  let dumpStderr = "";
  if (backup) {
    context.log.info({ backup_id: backup.id }, "backup already recorded by an earlier attempt; verifying it");
    await context.releaseDumpSlot?.();
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
  // A scheduled backup's project gets its retention sweep once the job is recorded completed.
  const afterCompleted = job.scheduleId && deps.afterScheduledBackup ? () => deps.afterScheduledBackup!(job.projectId) : undefined;
  await verifyAndComplete(deps, job, attempt, backup, reference.data, context, { announce: true, afterCompleted }, dumpStderr);
}

/** Dumps in an exported snapshot and records the backup; null when the attempt lost the job. */
async function dumpAndRecord(
  deps: BackupDependencies,
  job: Job,
  attempt: Attempt,
  context: AttemptContext,
): Promise<{ backup: Backup; stderr: string } | null> {
  const { log } = context;
  const backupId = newId("bkp");
  const key = attemptArtifactKey(job.projectId, job.id, attempt.fencingToken, backupId);
  let password: string | null = null;
  // DUMP_TIMEOUT_MS bounds pg_dump (and the inventory beside it), counted from the snapshot.
  const timeoutMs = deps.dumpTimeoutMs ?? JOB_KINDS.backup.timeoutMs;
  let timeout: AbortSignal | undefined;
  try {
    const target = await loadDumpTarget(deps.db, job.projectId, deps.keyring);
    password = target.password;
    const encryption = await encryptionFor(deps, job.projectId);
    const recipients = encryption?.recipients;
    // A lost attempt (taken over here, or reset by the reconciler) may have left its pg_dump
    // connected, e.g. a paused worker's: end those sessions before dumping (see endLostDumpSessions).
    if (attempt.tookOver || job.retryClassification === "worker_lost") {
      const ended = await endLostDumpSessions(target).catch((error: unknown) => {
        log.warn(
          { err: redactSecrets(error instanceof Error ? error.message : String(error), [password]) },
          "could not end the lost attempt's sessions on the source",
        );
        return 0;
      });
      if (ended > 0) log.warn({ sessions: ended }, "ended the lost attempt's sessions on the source database");
    }
    const started = Date.now();
    if (!(await retryOnDisconnect(() => setPhase(deps.db, attempt, "dumping"), { log, what: "phase" })))
      throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
    const progress = progressRecorder(deps.db, attempt);
    timeout = AbortSignal.timeout(timeoutMs);
    const dumpSignal = AbortSignal.any([context.stop, timeout]);
    const snapshot = await openSourceSnapshot(target).catch(async (sessionError: unknown) => {
      // pg_dump is what users read diagnostics from (exit code, stderr): when our snapshot
      // session cannot connect, let pg_dump try the same connection and report why it fails.
      // Should pg_dump succeed where the session failed, its artifact is discarded below and
      // the session's error decides the retry.
      await dumpToStorage({
        runner: deps.runner,
        pgDump: deps.pgDump,
        plan: deps.writePlan,
        recipients,
        target,
        storage: deps.storage,
        key,
        signal: dumpSignal,
      });
      throw sessionError;
    });
    // A stopped dump (timeout, cancel, lost job, shutdown) must not wait for the counting queries.
    const abortSnapshot = () => snapshot.abort();
    dumpSignal.addEventListener("abort", abortSnapshot, { once: true });
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
        plan: deps.writePlan,
        recipients,
        target,
        storage: deps.storage,
        key,
        signal: dumpSignal,
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
      dumpSignal.removeEventListener("abort", abortSnapshot);
      // Only now, with pg_dump gone, may the snapshot's transaction end; and the cluster's dump
      // slot goes back before verification.
      await snapshot.close();
      await context.releaseDumpSlot?.();
    }
    const { stored, stderrTail } = dumped;
    deps.metrics?.dumpDuration.observe(dumpSeconds);
    deps.metrics?.dumpBytes.observe(stored.sizeBytes);
    const stderr = redactSecrets(stderrTail, [password]);
    // Retried through a metadata-database outage; a repeat of a transaction that did commit finds its row.
    const backup = await retryOnDisconnect(
      () =>
        deps.db.$transaction(async (tx) => {
          if (!(await recordStep(tx, attempt, { phase: "verifying", progressBytes: stored.sizeBytes, lastStderr: stderr })))
            throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
          const existing = await tx.backup.findUnique({ where: { id: backupId } });
          if (existing) return existing;
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
              ...encodingColumns(dumped, encryption?.keyId ?? null),
              state: "completed",
              verificationState: "pending",
              sourceInventory: inventory as unknown as Prisma.InputJsonValue,
            },
          });
        }),
      { log, what: "record backup" },
    );
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
    const cause = timeout?.aborted && !context.stop.aborted ? new DumpTimeoutError(timeoutMs) : error;
    if (cause instanceof DumpTimeoutError) log.error({ timeout_ms: timeoutMs }, "pg_dump ran past DUMP_TIMEOUT_MS; stopped it");
    await recordFailure(deps.db, attempt, interruptionOr(context, cause), [password], context);
    return null;
  }
}

/**
 * The recipients of a new artifact (the project's current platform key, made on first use, and
 * every customer recipient) when the plan encrypts; null when it does not.
 */
async function encryptionFor(deps: { db: Db; keyring: Keyring | undefined; writePlan: WritePlan }, projectId: string): Promise<EncryptionTargets | null> {
  if (deps.writePlan.encoding.encryption === null) return null;
  if (!deps.keyring) throw new ConfigurationError("CAPY_ENCRYPTION_KEY is not set, so the project's encryption key cannot be sealed (BACKUP_ENCRYPTION=age)");
  return encryptionTargets(deps.db, deps.keyring, projectId);
}

async function removeArtifact(storage: ArtifactStorage, key: string, log: Logger): Promise<void> {
  try {
    await storage.delete(key);
  } catch (error) {
    // Nothing refers to it, so it is an orphan for a storage sweep, never a visible backup.
    log.error({ err: error, backup_key: key }, "could not remove the artifact of a failed attempt");
  }
}

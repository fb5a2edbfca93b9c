// The `backup` job: claim the job row; open a REPEATABLE READ transaction on the source that
// exports its snapshot; pg_dump the project's database in that snapshot into storage; record the
// backup (verification pending); then, while verification reads the artifact back and restores
// it, the same transaction counts what the snapshot holds (the source inventory, saved on the
// row), and the restored copy is compared with it before the job completes. Counting after the
// dump rather than beside it leaves pg_dump and its compressor the machine's cores (measured:
// README, Benchmarks); the snapshot stays open only until the counting ends.
// The artifact is stored before its row exists, so a backup row never points at a missing
// artifact; a failed or stale dump removes whatever it stored. A retried job whose backup is
// already recorded and counted goes straight to verification; one whose worker was lost before
// the counts were saved has lost the snapshot they must come from, so it is dumped again.
import type { WritePlan } from "@capy/artifact";
import type { Backup, Db, EncryptionTargets, Job, Keyring } from "@capy/db";
import { encryptionTargets, newId, Prisma } from "@capy/db";
import { type Attempt, JOB_KINDS, progressRecorder, recordStep, setPhase } from "@capy/jobs";
import { type ArtifactStorage, attemptArtifactKey, attemptOfArtifactKey, jobArtifactPrefix } from "@capy/storage";
import { retryOnDisconnect } from "../attempts/db-retry.js";
import { discardJobArtifacts } from "../attempts/leftovers.js";
import { ConfigurationError, DumpTimeoutError, StaleAttemptError } from "../failures/errors.js";
import type { Logger } from "../logger.js";
import type { WorkerMetrics } from "../metrics.js";
import { Inventory } from "../postgres/inventory.js";
import { type DumpRequest, type DumpResult, type DumpTarget, dumpToStorage, encodingColumns } from "../postgres/pg-dump.js";
import { endLostDumpSessions, openSourceSnapshot, type SourceSnapshot } from "../postgres/session.js";
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
  /** Absolute path of stdbuf, when the machine has it (a larger pg_dump stdout buffer: pg-dump.ts). */
  stdbuf?: string | null;
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
  if (backup && !Inventory.safeParse(backup.sourceInventory).success) {
    const outcome = await discardUncounted(deps, attempt, backup, context);
    if (outcome === "lost") return;
    backup = outcome === "discarded" ? null : outcome;
  }
  if (backup) {
    context.log.info({ backup_id: backup.id }, "backup already recorded by an earlier attempt; verifying it");
    await context.releaseDumpSlot?.();
    // A lost job is noticed (and nothing recorded) by the verification's own fenced writes.
    await setPhase(deps.db, attempt, "verifying", Number(backup.sizeBytes));
    await verifyBackup(deps, job, attempt, backup, Inventory.parse(backup.sourceInventory), context, "");
    return;
  }
  const dumped = await dumpAndRecord(deps, job, attempt, context);
  if (!dumped) return;
  try {
    await verifyBackup(deps, job, attempt, dumped.backup, dumped.counting, context, dumped.stderr);
  } finally {
    // A verification that failed early still gets its counts saved (a later re-verification
    // compares with them); a stopped job (cancel, shutdown, lost) has stopped the counting too.
    await dumped.counting.catch(() => {});
  }
}

function verifyBackup(
  deps: BackupDependencies,
  job: Job,
  attempt: Attempt,
  backup: Backup,
  reference: Inventory | Promise<Inventory>,
  context: AttemptContext,
  dumpStderr: string,
): Promise<void> {
  // A scheduled backup's project gets its retention sweep once the job is recorded completed.
  const afterCompleted = job.scheduleId && deps.afterScheduledBackup ? () => deps.afterScheduledBackup!(job.projectId) : undefined;
  return verifyAndComplete(deps, job, attempt, backup, reference, context, { announce: true, afterCompleted }, dumpStderr);
}

/**
 * Deletes a recorded backup whose source counts were never saved (its attempt was lost between
 * recording it and saving them) and its artifact, so that this attempt dumps again: without the
 * snapshot's counts the restored copy could not be checked. The lost attempt may still save
 * them meanwhile (a paused worker): then the row, counted, is returned to be verified.
 */
async function discardUncounted(deps: BackupDependencies, attempt: Attempt, backup: Backup, context: AttemptContext): Promise<"discarded" | "lost" | Backup> {
  const outcome = await retryOnDisconnect(
    () =>
      deps.db.$transaction(async (tx) => {
        if (!(await recordStep(tx, attempt, { phase: "dumping", progressBytes: 0 }))) return "lost" as const;
        const { count } = await tx.backup.deleteMany({ where: { id: backup.id, sourceInventory: { equals: Prisma.DbNull } } });
        return count === 1 ? ("discarded" as const) : await tx.backup.findUnique({ where: { id: backup.id } });
      }),
    { log: context.log, what: "discard uncounted backup" },
  );
  if (outcome !== "discarded") return outcome ?? "discarded";
  await removeArtifact(deps.storage, backup.backupKey, context.log);
  context.log.warn({ backup_id: backup.id }, "the earlier attempt was lost before it counted the source; dumping again");
  return "discarded";
}

/** A recorded backup, and the counting of its source that verification compares the restore with. */
interface Dumped {
  backup: Backup;
  stderr: string;
  /** The source inventory, counted in the dump's snapshot (and saved on the backup row). */
  counting: Promise<Inventory>;
}

/** Dumps in an exported snapshot and records the backup; null when the attempt lost the job. */
async function dumpAndRecord(deps: BackupDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<Dumped | null> {
  const { log } = context;
  const backupId = newId("bkp");
  const key = attemptArtifactKey(job.projectId, job.id, attempt.fencingToken, backupId);
  let password: string | null = null;
  // DUMP_TIMEOUT_MS bounds pg_dump and the counting after it, counted from the snapshot.
  const timeoutMs = deps.dumpTimeoutMs ?? JOB_KINDS.backup.timeoutMs;
  let timeout: AbortSignal | undefined;
  let snapshot: SourceSnapshot | undefined;
  try {
    const target = await loadDumpTarget(deps.db, job.projectId, deps.keyring);
    password = target.password;
    const encryption = await encryptionFor(deps, job.projectId);
    // A lost attempt (taken over here, or reset by the reconciler) may have left its pg_dump
    // connected, e.g. a paused worker's: end those sessions before dumping (see endLostDumpSessions).
    if (attempt.tookOver || job.retryClassification === "worker_lost") await endLostSessions(target, log);
    const started = Date.now();
    if (!(await retryOnDisconnect(() => setPhase(deps.db, attempt, "dumping"), { log, what: "phase" })))
      throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
    timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([context.stop, timeout]);
    // What both dumps below share: the source, the pipeline and where the artifact goes.
    const dumpOptions = {
      runner: deps.runner,
      pgDump: deps.pgDump,
      stdbuf: deps.stdbuf,
      plan: deps.writePlan,
      recipients: encryption?.recipients,
      target,
      storage: deps.storage,
      key,
      signal,
    };
    snapshot = await openSourceSnapshot(target).catch(async (sessionError: unknown) => {
      // pg_dump is what users read diagnostics from (exit code, stderr): when our snapshot
      // session cannot connect, let pg_dump try the same connection and report why it fails.
      // Should pg_dump succeed where the session failed, its artifact is discarded below and
      // the session's error decides the retry.
      await dumpToStorage(dumpOptions);
      throw sessionError;
    });
    const dumpStarted = Date.now();
    const dumped = await dumpInSnapshot(deps, attempt, { ...dumpOptions, snapshot: snapshot.id });
    const dumpSeconds = (Date.now() - dumpStarted) / 1_000;
    const { stored, stderrTail } = dumped;
    deps.metrics?.dumpDuration.observe(dumpSeconds);
    deps.metrics?.dumpBytes.observe(stored.sizeBytes);
    const stderr = redactSecrets(stderrTail, [password]);
    const recordStarted = Date.now();
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
              // Saved by countSource once counted (a retry finding none dumps again).
              sourceInventory: Prisma.DbNull,
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
        // Where dump_ms went (bench/backup-overhead): the snapshot session, pg_dump into storage
        // (compression, encryption, hashing, fsync), the row.
        snapshot_ms: dumpStarted - started,
        stored_ms: Math.round(dumpSeconds * 1_000),
        record_ms: Date.now() - recordStarted,
      },
      "backup stored and recorded; verifying it",
    );
    const counting = countSource(deps, backup.id, snapshot, signal, log, context.releaseDumpSlot);
    snapshot = undefined; // the counting owns it now, and ends it
    // Awaited by the verification, possibly long after it settled: never an unhandled rejection.
    counting.catch(() => {});
    return { backup, stderr, counting };
  } catch (error) {
    await snapshot?.close();
    await context.releaseDumpSlot?.();
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

/** pg_dump in the exported snapshot into storage, its progress on the job row. */
async function dumpInSnapshot(deps: BackupDependencies, attempt: Attempt, request: DumpRequest & { snapshot: string }): Promise<DumpResult> {
  const progress = progressRecorder(deps.db, attempt);
  try {
    return await dumpToStorage({ ...request, onProgress: (bytes) => progress.update(bytes) });
  } finally {
    await progress.flush();
  }
}

/**
 * Counts the source in the dump's snapshot (pg_dump has exited: the cores are the counting's and
 * the verification's), then ends the snapshot and gives back the cluster's dump slot (the
 * counting is load on the source too), and saves the inventory on the backup row, where a retry
 * or a later re-verification finds it. Any attempt may save it (it describes that row's snapshot,
 * whoever counted); a row a takeover deleted meanwhile is simply not found.
 */
async function countSource(
  deps: BackupDependencies,
  backupId: string,
  snapshot: SourceSnapshot,
  signal: AbortSignal,
  log: Logger,
  releaseDumpSlot: (() => Promise<void>) | undefined,
): Promise<Inventory> {
  const started = Date.now();
  const abort = () => snapshot.abort();
  signal.addEventListener("abort", abort, { once: true });
  let inventory: Inventory;
  try {
    if (signal.aborted) throw signal.reason;
    inventory = await snapshot.inventory();
  } finally {
    signal.removeEventListener("abort", abort);
    await snapshot.close();
    await releaseDumpSlot?.();
  }
  const json = inventory as unknown as Prisma.InputJsonValue;
  await retryOnDisconnect(
    () => deps.db.backup.updateMany({ where: { id: backupId, sourceInventory: { equals: Prisma.DbNull } }, data: { sourceInventory: json } }),
    { log, what: "save source inventory" },
  );
  log.info({ backup_id: backupId, inventory_ms: Date.now() - started, tables: inventory.tables.length }, "source counted");
  return inventory;
}

/** Ends what a lost attempt left connected to the source; a failure to do so is only logged. */
async function endLostSessions(target: DumpTarget, log: Logger): Promise<void> {
  const ended = await endLostDumpSessions(target).catch((error: unknown) => {
    log.warn(
      { err: redactSecrets(error instanceof Error ? error.message : String(error), [target.password]) },
      "could not end the lost attempt's sessions on the source",
    );
    return 0;
  });
  if (ended > 0) log.warn({ sessions: ended }, "ended the lost attempt's sessions on the source database");
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

// The `restore` job: bring a backup back into a preview database (a new one, or an existing one
// overwritten) or over the project's own database. Previews are restored as their own login role
// with --no-owner --no-acl, so everything in them belongs to that role. A project restore first
// waits for its safety backup (a normal backup job, verified), builds the restored copy in a
// staging database and swaps it in by rename only once complete, so a failed restore leaves the
// project exactly as it was. Cancel, failure and a lost worker drop what the attempt created.
import type { RestoreJobOptions, RestoreTargetKind } from "@capy/contracts";
import type { Backup, Db, Job, PreviewDatabase, Prisma } from "@capy/db";
import {
  type Attempt,
  appendEvent,
  appendPreviewEvent,
  completeAttempt,
  ownedBy,
  progressRecorder,
  readJobPayload,
  recordStep,
  serializeJob,
  setPhase,
} from "@capy/jobs";
import { retryOnDisconnect } from "../attempts/db-retry.js";
import { ConfigurationError, ResourceBusyError, RestoreTimeoutError, StaleAttemptError } from "../failures/errors.js";
import type { Logger } from "../logger.js";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { decryptPassword, loadClusterAdmin } from "../postgres/target.js";
import { redactSecrets } from "../redact.js";
import { createPreviewDatabase, createStagingDatabase, stagingNames, swapInByRename } from "../restore/databases.js";
import { type RestoreTools, restoreBackup } from "../restore/restore-backup.js";
import { previewHome, type ServerLogins } from "../restore/servers.js";
import { cleanUpRestore, failPreviewOfEndedJob } from "../restore/settle.js";
import { type AttemptContext, type ClaimDependencies, interruptionOr, recordFailure, runClaimed } from "./claimed.js";
import type { JobRuntime } from "./handler.js";

export interface RestoreDependencies extends ClaimDependencies, ServerLogins, Omit<RestoreTools, "jobs"> {
  /** pg_restore -j (RESTORE_JOBS). */
  restoreJobs: number;
  /** RESTORE_TIMEOUT_MS. */
  restoreTimeoutMs: number;
}

export function createRestoreRuntime(deps: RestoreDependencies): JobRuntime {
  const hooks = {
    beforeLeases: (job: Job) => waitForSafetyBackup(deps.db, job),
    // A lost attempt (taken over, or failed for good) and a canceled job: drop what it created.
    afterWorkerLost: (job: Job, _belowToken: number, log: Logger) => cleanUpRestore(deps, job, log),
    afterCancel: (job: Job, _keys: string[], log: Logger) => cleanUpRestore(deps, job, log),
  };
  return {
    ...hooks,
    handler: (context) => runClaimed(deps, context, "restore", (job, attempt, attemptContext) => runAttempt(deps, job, attempt, attemptContext), hooks),
  };
}

/** A project restore waits, unclaimed, until its safety backup job has ended. */
async function waitForSafetyBackup(db: Db, job: Job): Promise<void> {
  const safetyJobId = restoreOptionsOf(job)?.safety_job_id;
  if (!safetyJobId || job.cancelRequestedAt) return;
  const safety = await db.job.findUnique({ where: { id: safetyJobId }, select: { state: true, lockedResource: true } });
  // Its database lock is the one it holds: giving it back wakes this job.
  if (safety && (safety.state === "pending" || safety.state === "running")) throw new ResourceBusyError(safety.lockedResource);
}

/** The job's restore options (jobs.payload, as the catalogue's schema reads it); null when unreadable. */
function restoreOptionsOf(job: Job): RestoreJobOptions | null {
  try {
    return (readJobPayload(job) as { restoreOptions: RestoreJobOptions }).restoreOptions;
  } catch {
    return null;
  }
}

interface Plan {
  target: RestoreTargetKind;
  tables: string[] | null;
  backup: Backup;
}

/** What the row asks for, or why it cannot be done (a permanent failure). */
async function planOf(db: Db, job: Job): Promise<Plan | string> {
  const options = restoreOptionsOf(job);
  if (!options) return "restore job has no valid restore options in its payload";
  const backup = job.backupId ? await db.backup.findFirst({ where: { id: job.backupId, projectId: job.projectId } }) : null;
  if (backup?.state !== "completed") return `backup ${job.backupId ?? "(none)"} has no artifact to restore in project ${job.projectId}`;
  const { safety_job_id: safetyJobId, target_kind: target, tables } = options;
  if (target === "project") {
    const safety = safetyJobId ? await db.job.findUnique({ where: { id: safetyJobId } }) : null;
    const safetyBackup = safety ? await db.backup.findUnique({ where: { jobId: safety.id } }) : null;
    if (safety?.state !== "completed" || safetyBackup?.verificationState !== "verified") {
      return `the safety backup (job ${safetyJobId ?? "none"}, ${safety?.state ?? "missing"}) did not complete verified; the project database was not touched`;
    }
  }
  return { target, tables, backup };
}

async function runAttempt(deps: RestoreDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<void> {
  const { log } = context;
  const plan = await planOf(deps.db, job);
  if (typeof plan === "string") return recordFailure(deps.db, attempt, new ConfigurationError(plan), [], context);
  if (!(await retryOnDisconnect(() => setPhase(deps.db, attempt, "restoring", 0), { log, what: "phase" }))) return;
  const progress = progressRecorder(deps.db, attempt);
  const timeout = AbortSignal.timeout(deps.restoreTimeoutMs);
  const signal = AbortSignal.any([context.stop, timeout]);
  const secrets: Array<string | null> = [];
  const tools: RestoreTools = { ...deps, jobs: deps.restoreJobs };
  const started = Date.now();
  try {
    const request = { backup: plan.backup, tables: plan.tables, signal, onBytes: (bytes: number) => progress.update(bytes), log };
    let stderr: string;
    let preview: PreviewDatabase | null = null;
    if (plan.target === "project") {
      stderr = await restoreOverProject(deps, tools, job, attempt, request, context);
    } else {
      preview = await deps.db.previewDatabase.findUniqueOrThrow({ where: { id: job.previewDatabaseId! } });
      const password = decryptPassword(preview.passwordEncrypted, deps.keyring, "preview's");
      secrets.push(password);
      stderr = await restorePreview(deps, tools, job, attempt, preview, password, request);
    }
    await progress.flush();
    await complete(deps.db, attempt, preview, redactSecrets(stderr, secrets), log);
    log.info({ backup_id: plan.backup.id, target_kind: plan.target, preview_database_id: preview?.id, restore_ms: Date.now() - started }, "restore completed");
  } catch (error) {
    await progress.flush();
    if (error instanceof StaleAttemptError) {
      log.warn({ fencing_token: attempt.fencingToken }, "attempt no longer owns the job; its restore was not recorded");
      return;
    }
    // Only an attempt that still owns the job removes what it made: a newer one may be using the names.
    if ((await deps.db.job.count({ where: ownedBy(attempt) })) === 1) await cleanUpRestore(deps, job, log);
    const cause = timeout.aborted && !context.stop.aborted ? new RestoreTimeoutError(deps.restoreTimeoutMs) : error;
    try {
      await recordFailure(deps.db, attempt, interruptionOr(context, cause), secrets, context);
    } finally {
      if (job.previewDatabaseId) await failPreviewOfEndedJob(deps.db, job.previewDatabaseId, job.id);
    }
  }
}

interface RestoreStep {
  backup: Backup;
  tables: string[] | null;
  signal: AbortSignal;
  onBytes: (bytes: number) => void;
  log: Logger;
}

/** (Re)creates the preview's role and an empty database it owns, and restores into it as that role. */
async function restorePreview(
  deps: RestoreDependencies,
  tools: RestoreTools,
  job: Job,
  attempt: Attempt,
  preview: PreviewDatabase,
  password: string,
  step: RestoreStep,
): Promise<string> {
  const home = await previewHome(deps, job.clusterId);
  // Where it lives is recorded before anything exists there, so any cleanup knows where to look.
  await fenced(deps.db, attempt, (tx) =>
    tx.previewDatabase.update({ where: { id: preview.id }, data: { clusterId: home.clusterId, host: home.admin.host, port: home.admin.port } }),
  );
  await createPreviewDatabase(home.admin, { name: preview.databaseName, password });
  const login: DumpTarget = { host: home.admin.host, port: home.admin.port, user: preview.databaseName, password, database: preview.databaseName };
  return restoreBackup(tools, { ...step, login, database: preview.databaseName, noOwner: true });
}

/** Restores into a staging database shaped like the project's, then swaps it in by rename. */
async function restoreOverProject(
  deps: RestoreDependencies,
  tools: RestoreTools,
  job: Job,
  attempt: Attempt,
  step: RestoreStep,
  context: AttemptContext,
): Promise<string> {
  const project = await deps.db.project.findUniqueOrThrow({ where: { id: job.projectId } });
  const admin = await loadClusterAdmin(deps.db, project.clusterId, deps.keyring);
  const { staging, replaced } = stagingNames(job.id);
  await createStagingDatabase(admin, project.databaseName, staging);
  // Owners and grants come back as they were (the operator login restores them).
  const stderr = await restoreBackup(tools, { ...step, tables: null, login: admin, database: staging, noOwner: false });
  // The last moment to stop: still ours, not canceled, not shutting down.
  if (step.signal.aborted) throw interruptionOr(context, new Error("restore stopped before the swap"));
  await fenced(deps.db, attempt, async () => {});
  context.log.info({ database: project.databaseName, staging }, "restored copy complete; swapping it in by rename");
  await swapInByRename(admin, project.databaseName, staging, replaced);
  return stderr;
}

/**
 * Runs `work` in a transaction only while the attempt still owns the job (StaleAttemptError
 * otherwise); the fenced step write locks the job row until the transaction ends.
 */
async function fenced(db: Db, attempt: Attempt, work: (tx: Prisma.TransactionClient) => Promise<unknown>): Promise<void> {
  await db.$transaction(async (tx) => {
    if (!(await recordStep(tx, attempt, { phase: "restoring" }))) throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
    await work(tx);
  });
}

/**
 * The job completed and (for previews) the preview ready, in one transaction with their events:
 * job.completed, restore.completed and preview.ready.
 */
async function complete(db: Db, attempt: Attempt, preview: PreviewDatabase | null, stderr: string, log: Logger): Promise<void> {
  await retryOnDisconnect(
    () =>
      db.$transaction(async (tx) => {
        const ready = preview ? await tx.previewDatabase.update({ where: { id: preview.id }, data: { state: "ready" } }) : null;
        await completeAttempt(tx, attempt, { stderr, stdout: null });
        const job = await tx.job.findUniqueOrThrow({ where: { id: attempt.jobId } });
        await appendEvent(tx, "restore.completed", job, serializeJob(job));
        if (ready) await appendPreviewEvent(tx, "preview.ready", ready);
      }),
    { log, what: "complete" },
  );
}

// Requesting a restore: checks (backup of this project, verified unless forced, target allowed
// for this caller), then the rows in one transaction (a new preview, a preview marked
// `creating`, or the safety backup job a project restore waits for; and the restore job), then
// the BullMQ jobs. The worker does the restore.
import { randomBytes } from "node:crypto";
import { LIVE_PREVIEW_STATES, previewDatabaseName, type RestoreJobOptions, type RestoreTargetKind, safetyBackupLabel, TTL_HOURS } from "@capy/contracts";
import { type Backup, type Job, type Keyring, newId, type Prisma, type Project } from "@capy/db";
import { insertJobRow, type NewJob } from "@capy/jobs";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";
import type { CreateJobDeps } from "./jobs.js";

export interface RestoreRequest {
  backup_id?: string | undefined;
  backup_key?: string | undefined;
  target_kind: RestoreTargetKind;
  preview_name?: string | undefined;
  ttl_hours?: number | undefined;
  preview_database_id?: string | undefined;
  tables?: string[] | undefined;
  confirm?: boolean | undefined;
  force?: boolean | undefined;
}

export interface RestoreDeps extends CreateJobDeps {
  previewsPerProject: number;
  keyring: Keyring | undefined;
}

export async function requestRestore(deps: RestoreDeps, principal: Principal, project: Project, input: RestoreRequest): Promise<Job> {
  const backup = await restorableBackup(deps, project, input);
  if (input.target_kind === "project") checkProjectTarget(principal, input);
  const jobId = newId("job");
  const options: RestoreJobOptions = { target_kind: input.target_kind, tables: input.tables ?? null, safety_job_id: null };
  const base = { organizationId: project.organizationId, projectId: project.id, clusterId: project.clusterId, backupId: backup.id };
  const jobs = await deps.db.$transaction(async (tx) => {
    if (input.target_kind === "project") {
      const safety = await insertJobRow(tx, { ...base, type: "backup", backupId: null, databaseName: project.databaseName, label: safetyBackupLabel(jobId) });
      const restore = await insertJobRow(tx, {
        ...base,
        id: jobId,
        type: "restore",
        databaseName: project.databaseName,
        payload: { restoreOptions: { ...options, safety_job_id: safety.id } },
      });
      return [safety, restore];
    }
    const preview =
      input.target_kind === "preview"
        ? await claimExistingPreview(tx, project, backup, input.preview_database_id, jobId)
        : await createPreview(tx, deps, project, backup, input, jobId);
    const restore: NewJob = {
      ...base,
      id: jobId,
      type: "restore",
      databaseName: preview.databaseName,
      previewDatabaseId: preview.id,
      payload: { restoreOptions: options },
    };
    return [await insertJobRow(tx, restore)];
  });
  for (const job of jobs) await deps.enqueues.start(job, deps.log);
  return jobs.at(-1)!;
}

async function restorableBackup(deps: RestoreDeps, project: Project, input: RestoreRequest): Promise<Backup> {
  if (!input.backup_id && !input.backup_key) throw new AppError("BAD_REQUEST", "one of backup_id or backup_key is required");
  const backup = await deps.db.backup.findFirst({
    where: { projectId: project.id, ...(input.backup_id ? { id: input.backup_id } : {}), ...(input.backup_key ? { backupKey: input.backup_key } : {}) },
  });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to restore (state: ${backup.state})`);
  if (backup.verificationState === "failed" && !input.force) {
    throw new AppError("CONFLICT", 'backup failed verification; send "force": true to restore it anyway');
  }
  return backup;
}

/** Restoring over the project's own database: an explicit confirm, from an organization admin's session. */
function checkProjectTarget(principal: Principal, input: RestoreRequest): void {
  if (input.confirm !== true) throw new AppError("BAD_REQUEST", 'restoring over the project database requires "confirm": true');
  // The project is replaced whole (staging database, then rename): a table selection would drop the rest.
  if (input.tables) throw new AppError("BAD_REQUEST", 'tables cannot be combined with target_kind "project"; restore them into a preview');
  if (principal.source !== "session" || principal.role !== "admin") {
    throw new AppError("FORBIDDEN", "restoring over the project database requires an organization admin session");
  }
}

/** A new preview row (`creating`), within PREVIEWS_PER_PROJECT, counted under a per-project lock. */
async function createPreview(tx: Prisma.TransactionClient, deps: RestoreDeps, project: Project, backup: Backup, input: RestoreRequest, jobId: string) {
  const keyring = deps.keyring;
  if (!keyring) throw new Error("CAPY_ENCRYPTION_KEY is not set; preview passwords cannot be sealed");
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`previews:${project.id}`}))`;
  const live = await tx.previewDatabase.count({ where: { projectId: project.id, state: { in: [...LIVE_PREVIEW_STATES] } } });
  if (live >= deps.previewsPerProject) {
    throw new AppError("CONFLICT", `the project already has ${live} preview databases (at most ${deps.previewsPerProject}); delete one first`);
  }
  const id = newId("pvw");
  const ttlHours = input.ttl_hours ?? TTL_HOURS.default;
  return tx.previewDatabase.create({
    data: {
      id,
      organizationId: project.organizationId,
      projectId: project.id,
      name: input.preview_name ?? `${backup.id} preview`,
      databaseName: previewDatabaseName(id),
      sourceBackupId: backup.id,
      sourceBackupKey: backup.backupKey,
      state: "creating",
      ttlExpiresAt: new Date(Date.now() + ttlHours * 3_600_000),
      // 192 random bits; the role's password, sealed like every credential.
      passwordEncrypted: keyring.seal(randomBytes(24).toString("base64url")),
      jobId,
    },
  });
}

/** An existing ready or failed preview of the project, marked `creating` for this restore (else 404/409). */
async function claimExistingPreview(tx: Prisma.TransactionClient, project: Project, backup: Backup, previewId: string | undefined, jobId: string) {
  if (!previewId) throw new AppError("BAD_REQUEST", 'target_kind "preview" requires preview_database_id');
  const { count } = await tx.previewDatabase.updateMany({
    where: { id: previewId, projectId: project.id, state: { in: ["ready", "failed"] } },
    data: { state: "creating", jobId, sourceBackupId: backup.id, sourceBackupKey: backup.backupKey },
  });
  const preview = await tx.previewDatabase.findFirst({ where: { id: previewId, projectId: project.id } });
  if (!preview || preview.state === "deleted" || preview.state === "deleting") throw new AppError("NOT_FOUND", "preview database not found");
  if (count === 0) throw new AppError("CONFLICT", "preview database is being restored already");
  return preview;
}

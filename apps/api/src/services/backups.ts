// Backups: listing, requesting one (a job row, then its BullMQ job), and opening an artifact.
import type { Readable } from "node:stream";
import { type OpenOptions, openArtifact } from "@capy/artifact";
import { type Backup, type Db, type NewAuditRow, type Project, readProjectBackups } from "@capy/db";
import type { NewJob } from "@capy/jobs";
import { type ArtifactStorage, ObjectNotFoundError } from "@capy/storage";
import { AppError } from "../errors.js";
import { type CreatedJob, createJobOnce } from "./idempotency.js";
import type { CreateJobDeps } from "./jobs.js";

/** Newest first. A hot read: SQL on Prisma's pool (see @capy/db hot-paths). */
export function listBackups(db: Db, project: Project): Promise<Backup[]> {
  return readProjectBackups(db, project.id);
}

/**
 * Records a pending backup job (id `jobId`, with `audit` in the same statement) and enqueues it
 * (see createJob); under an Idempotency-Key, the key's earlier job within 24 h instead of a new one.
 */
export function requestBackupOnce(
  deps: CreateJobDeps,
  project: Project,
  request: { jobId: string; label: string | null; idempotencyKey: string | undefined; audit: NewAuditRow },
): Promise<CreatedJob> {
  return createJobOnce(deps, backupJobInput(request.jobId, project, request.label), request.idempotencyKey, request.audit);
}

function backupJobInput(id: string, project: Project, label: string | null): NewJob {
  return {
    id,
    type: "backup",
    organizationId: project.organizationId,
    projectId: project.id,
    clusterId: project.clusterId,
    databaseName: project.databaseName,
    label,
  };
}

export interface BackupArtifact {
  body: Readable;
  /** Bytes `body` delivers; null when not known in advance (an old row decoded on the fly). */
  sizeBytes: number | null;
  /** `<database>-<backup id>.dump` (`.dump.zst` for stored zstd bytes), safe inside a quoted Content-Disposition filename. */
  filename: string;
  contentType: string;
}

/**
 * Opens a backup's artifact for download through the one artifact reader: by default as a
 * pg_restore-ready archive (decompressed on the fly), or its stored bytes as they are.
 */
export async function openBackupArtifact(db: Db, storage: ArtifactStorage, project: Project, backupId: string, read: OpenOptions): Promise<BackupArtifact> {
  const backup = await db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to download (state: ${backup.state})`);
  try {
    const opened = await openArtifact(storage, backup, read);
    const suffix = opened.encoding === "zstd" ? ".dump.zst" : ".dump";
    const filename = `${backup.databaseName}-${backup.id}${suffix}`.replace(/[^A-Za-z0-9._-]/g, "_");
    return {
      body: opened.body,
      sizeBytes: opened.sizeBytes,
      filename,
      contentType: opened.encoding === "zstd" ? "application/zstd" : "application/octet-stream",
    };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new AppError("NOT_FOUND", "backup artifact not found", { cause: error });
    throw error;
  }
}

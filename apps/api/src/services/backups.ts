// Backups: listing, requesting one (a job row, then its BullMQ job), and opening an artifact.
import type { Readable } from "node:stream";
import type { Backup, Db, Project } from "@capy/db";
import { ObjectNotFoundError, type ArtifactStorage } from "@capy/storage";
import { AppError } from "../errors.js";
import type { NewJob } from "@capy/jobs";
import { createJobOnce, type CreatedJob } from "./idempotency.js";
import type { CreateJobDeps } from "./jobs.js";

export function listBackups(db: Db, project: Project): Promise<Backup[]> {
  return db.backup.findMany({ where: { projectId: project.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

/**
 * Records a pending backup job and enqueues it (see createJob); under an Idempotency-Key, the
 * key's earlier job within 24 h instead of a new one.
 */
export function requestBackupOnce(deps: CreateJobDeps, project: Project, label: string | null, key: string | undefined): Promise<CreatedJob> {
  return createJobOnce(deps, backupJobInput(project, label), key);
}

function backupJobInput(project: Project, label: string | null): NewJob {
  return {
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
  sizeBytes: number;
  /** `<database>-<backup id>.dump`, safe inside a quoted Content-Disposition filename. */
  filename: string;
}

export async function openBackupArtifact(db: Db, storage: ArtifactStorage, project: Project, backupId: string): Promise<BackupArtifact> {
  const backup = await db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to download (state: ${backup.state})`);
  try {
    const sizeBytes = await storage.size(backup.backupKey);
    const body = await storage.get(backup.backupKey);
    const filename = `${backup.databaseName}-${backup.id}.dump`.replace(/[^A-Za-z0-9._-]/g, "_");
    return { body, sizeBytes, filename };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new AppError("NOT_FOUND", "backup artifact not found", { cause: error });
    throw error;
  }
}

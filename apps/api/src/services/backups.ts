// Backups: listing, requesting one (a job row, then its BullMQ job), and opening an artifact.
import type { Readable } from "node:stream";
import type { FastifyBaseLogger } from "fastify";
import type { Backup, Db, Job, Project } from "@capy/db";
import { enqueueJob, insertJobRow, type BackupQueue } from "@capy/queue";
import { ObjectNotFoundError, type ArtifactStorage } from "@capy/storage";
import { AppError } from "../errors.js";
import { withTimeout } from "../timeout.js";

/** How long a request waits for Redis to accept a job before leaving it to the reconciler (ms). */
const ENQUEUE_TIMEOUT_MS = 2_000;

export function listBackups(db: Db, project: Project): Promise<Backup[]> {
  return db.backup.findMany({ where: { projectId: project.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

export interface RequestBackupDeps {
  db: Db;
  queue: BackupQueue;
  log: FastifyBaseLogger;
}

/**
 * Records a pending backup job and enqueues it. Postgres is the source of truth: when Redis is
 * unreachable the row stays pending, the reconciler enqueues it later, and the caller still
 * gets the job to poll.
 */
export async function requestBackup({ db, queue, log }: RequestBackupDeps, project: Project, label: string | null): Promise<Job> {
  const job = await insertJobRow(db, {
    type: "backup",
    organizationId: project.organizationId,
    projectId: project.id,
    clusterId: project.clusterId,
    databaseName: project.databaseName,
    label,
  });
  try {
    await withTimeout(enqueueJob(queue, job), ENQUEUE_TIMEOUT_MS, "enqueue");
  } catch (err) {
    log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
  }
  return job;
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

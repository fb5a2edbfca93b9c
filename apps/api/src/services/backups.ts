// Backups: listing, requesting one (a job row, then its BullMQ job), and opening an artifact.
import { once } from "node:events";
import type { Readable } from "node:stream";
import { ArtifactChecksumError, ArtifactKeyError, decodingFailureMessage, type OpenOptions, openArtifact, StageFailedError } from "@capy/artifact";
import { type Backup, type BackupView, type Db, type NewAuditRow, type Project, readProjectBackups } from "@capy/db";
import type { NewJob } from "@capy/jobs";
import { type ArtifactStorage, ObjectNotFoundError } from "@capy/storage";
import { AppError } from "../errors.js";
import { type CreatedJob, createJobOnce } from "./idempotency.js";
import type { CreateJobDeps } from "./jobs.js";

/** Newest first. A hot read: SQL on Prisma's pool (see @capy/db hot-paths). */
export function listBackups(db: Db, project: Project): Promise<readonly BackupView[]> {
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
  /**
   * `<database>-<backup id>.dump`, plus what wraps the stored bytes (`.dump.zst`, `.dump.zst.age`,
   * `.dump.age`), safe inside a quoted Content-Disposition filename.
   */
  filename: string;
  contentType: string;
}

/**
 * Opens a backup's artifact for download through the one artifact reader: by default as a
 * pg_restore-ready archive (decrypted and decompressed on the fly), or its stored bytes as they
 * are. A key that is missing, unusable or not among the artifact's recipients is a 409 before
 * any byte is sent (age checks the key on the stream's header, its first bytes), and so are
 * stored bytes that zstd refuses from the start; a failure later aborts the response.
 */
export async function openBackupArtifact(db: Db, storage: ArtifactStorage, project: Project, backupId: string, read: OpenOptions): Promise<BackupArtifact> {
  const backup = await db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to download (state: ${backup.state})`);
  try {
    const opened = await openArtifact(storage, backup, read);
    const decoded = read.as === "archive" && (backup.encryption !== null || backup.storedEncoding === "zstd");
    if (decoded) await firstBytes(storage, backup, opened.body);
    const suffix = `.dump${opened.encoding === "zstd" ? ".zst" : ""}${opened.encryption === "age" ? ".age" : ""}`;
    const filename = `${backup.databaseName}-${backup.id}${suffix}`.replace(/[^A-Za-z0-9._-]/g, "_");
    const zstd = opened.encoding === "zstd" && opened.encryption === null;
    return { body: opened.body, sizeBytes: opened.sizeBytes, filename, contentType: zstd ? "application/zstd" : "application/octet-stream" };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new AppError("NOT_FOUND", "backup artifact not found", { cause: error });
    if (error instanceof ArtifactKeyError) throw new AppError("CONFLICT", error.message, { cause: error });
    throw error;
  }
}

/**
 * Waits until `body` has its first bytes (age authenticated the header with the key, zstd took
 * the frame) or fails. A failure before any byte is answered as a 409: a checksum mismatch when
 * the stored bytes changed (a changed header also fails age's key check), else age's or zstd's
 * own message.
 */
async function firstBytes(storage: ArtifactStorage, backup: Backup, body: Readable): Promise<void> {
  try {
    if (body.errored) throw body.errored;
    await once(body, "readable");
  } catch (error) {
    if (error instanceof ArtifactChecksumError) throw new AppError("CONFLICT", error.message, { cause: error });
    // A child killed (not exiting with a code) says nothing about the artifact.
    if (!(error instanceof StageFailedError) || error.exitCode === null) throw error;
    throw new AppError("CONFLICT", await decodingFailureMessage(storage, backup, error), { cause: error });
  }
}

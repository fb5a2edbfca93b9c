export { FilesystemStorage, type SweptPartial } from "./filesystem.js";
export {
  DEFAULT_PART_SIZE_BYTES,
  DEFAULT_QUEUE_SIZE,
  type IncompleteUpload,
  type S3GetOptions,
  S3Storage,
  type S3StorageOptions,
  type S3StoredObject,
  SHA256_TAG,
} from "./s3.js";
export { DEFAULT_S3_REGION, type S3Config, s3ConfigFromEnv } from "./s3-config.js";
export type { UploadVerification } from "./s3-verify.js";
export {
  type ArtifactStorage,
  ChecksumMismatchError,
  type GetOptions,
  ObjectNotFoundError,
  type StoredObject,
} from "./storage.js";

import { FilesystemStorage } from "./filesystem.js";
import { S3Storage } from "./s3.js";
import type { S3Config } from "./s3-config.js";
import type { ArtifactStorage } from "./storage.js";

export interface StorageConfig {
  /** Root directory of the filesystem backend (used when no S3 bucket is configured). */
  storageDir: string;
  /** S3-compatible backend; selected when `s3.bucket` is set (see `s3ConfigFromEnv`). */
  s3?: S3Config | undefined;
}

/** The configured backend: S3 when a bucket is configured, else the filesystem under `storageDir`. */
export function createStorage(config: StorageConfig): ArtifactStorage {
  if (config.s3?.bucket) {
    const partSizeBytes = config.s3.partSizeMiB === undefined ? undefined : config.s3.partSizeMiB * 1024 * 1024;
    return new S3Storage(config.s3, { partSizeBytes });
  }
  return new FilesystemStorage(config.storageDir);
}

/** Storage key of a backup's artifact: grouped by project, named by backup id. */
export function backupArtifactKey(projectId: string, backupId: string): string {
  return `projects/${projectId}/backups/${backupId}.dump`;
}

/** Prefix under which every artifact of one backup job lives, one key per attempt. */
export function jobArtifactPrefix(projectId: string, jobId: string): string {
  return `projects/${projectId}/backups/${jobId}/`;
}

/**
 * Storage key of the artifact one attempt of a backup job writes: keyed by the attempt's fencing
 * token, so a stale attempt never writes a key a newer attempt uses, and a newer attempt can find
 * (and remove) what earlier ones left under jobArtifactPrefix.
 */
export function attemptArtifactKey(projectId: string, jobId: string, fencingToken: number, backupId: string): string {
  return `${jobArtifactPrefix(projectId, jobId)}${fencingToken}-${backupId}.dump`;
}

/** The fencing token in an attemptArtifactKey (or its leftovers), or null for any other key. */
export function attemptOfArtifactKey(key: string): number | null {
  const match = /\/(\d+)-[^/]+\.dump$/.exec(key);
  return match ? Number(match[1]) : null;
}

/** The job id in an attemptArtifactKey, or null for any other key. */
export function jobOfArtifactKey(key: string): string | null {
  const match = /^projects\/[^/]+\/backups\/(job_[^/]+)\/\d+-[^/]+\.dump$/.exec(key);
  return match ? match[1]! : null;
}

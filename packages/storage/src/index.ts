export { ObjectNotFoundError, type ArtifactStorage, type StoredObject } from "./storage.js";
export { FilesystemStorage } from "./filesystem.js";

import { FilesystemStorage } from "./filesystem.js";
import type { ArtifactStorage } from "./storage.js";

export interface StorageConfig {
  /** Root directory of the filesystem backend. */
  storageDir: string;
}

/** The configured backend. Only the filesystem exists today; S3 joins here. */
export function createStorage(config: StorageConfig): ArtifactStorage {
  return new FilesystemStorage(config.storageDir);
}

/** Storage key of a backup's artifact: grouped by project, named by backup id. */
export function backupArtifactKey(projectId: string, backupId: string): string {
  return `projects/${projectId}/backups/${backupId}.dump`;
}

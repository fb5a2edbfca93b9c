// Deleting a backup on request: the row first, by one conditional DELETE that refuses a backup
// still being made or verified (see @capy/db backup-deletion), with its backup.deleted event in
// the same transaction (@capy/jobs), then its artifact. A row therefore never points at a missing
// artifact; if the artifact delete fails, the backup is gone for the user and the orphaned
// object is logged (key and error, nothing secret) for an operator.
import type { Backup, Db, Project } from "@capy/db";
import { deleteIdleBackup } from "@capy/jobs";
import type { ArtifactStorage } from "@capy/storage";
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.js";

export interface DeleteBackupDeps {
  db: Db;
  storage: ArtifactStorage;
  log: FastifyBaseLogger;
}

/** The deleted backup as it was; 404 for a backup the project does not have, 409 while busy. */
export async function deleteBackup(deps: DeleteBackupDeps, project: Project, backupId: string): Promise<Backup> {
  const before = await deps.db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!before) throw new AppError("NOT_FOUND", "backup not found");
  const result = await deleteIdleBackup(deps.db, project.id, backupId);
  if (result.outcome === "not_found") throw new AppError("NOT_FOUND", "backup not found");
  if (result.outcome === "busy") throw new AppError("CONFLICT", "backup is still being made or verified; try again once its job has finished");
  try {
    await deps.storage.delete(result.row.backup_key);
  } catch (error) {
    deps.log.error(
      { err: error instanceof Error ? error.message : String(error), backup_id: backupId, backup_key: result.row.backup_key },
      "backup row deleted but its artifact could not be removed; the artifact is orphaned",
    );
  }
  return before;
}

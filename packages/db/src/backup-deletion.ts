// Deleting backups, shared by the API (DELETE /v1/projects/{id}/backups/{backupID}) and the
// worker's retention sweep, so both apply the same rules:
// - A backup still being made or verified is never deleted: its verification is pending, the
//   job that produces it has not finished, or a verify job for it is pending or running.
// - The row goes first, by one conditional DELETE that re-checks those conditions, and only then
//   the artifact (the caller's job). So a row never points at a missing artifact, and whoever
//   deletes the row (one of several concurrent sweeps, or the API) is the one that deletes the
//   artifact; the others match no row and skip it.
// - Every deletion of a project's backups holds a per-project transaction-level advisory lock, so
//   a retention sweep deciding "a newer good backup exists" cannot interleave with the API
//   deleting that newer backup.
import type { Db } from "./client.js";
import { Prisma } from "./generated/prisma/client.js";

type Tx = Prisma.TransactionClient;

/** The columns a deleter needs to remove the artifact and report what it removed. */
export interface DeletedBackupRow {
  id: string;
  organization_id: string;
  project_id: string;
  job_id: string;
  schedule_id: string | null;
  database_name: string;
  backup_key: string;
  label: string | null;
  size_bytes: bigint;
  sha256: string;
  state: string;
  verification_state: string;
  verification_error: string | null;
  verified_at: Date | null;
  created_at: Date;
  compression: string;
  compression_level: number | null;
  archive_format: string;
  stored_encoding: string;
  archive_size_bytes: bigint | null;
  encryption: string | null;
  encryption_key_id: string | null;
}

/**
 * Runs in the deleting transaction once the row is gone (the `backup.deleted` event of the
 * outbox, in @capy/jobs), so the deletion and what reports it commit together.
 */
export type OnBackupDeleted = (tx: Tx, row: DeletedBackupRow) => Promise<void>;

const RETURNED = Prisma.sql`RETURNING b.id, b.organization_id, b.project_id, b.job_id, b.schedule_id, b.database_name, b.backup_key, b.label,
                b.size_bytes, b.sha256, b.state, b.verification_state, b.verification_error, b.verified_at, b.created_at,
                b.compression, b.compression_level, b.archive_format, b.stored_encoding, b.archive_size_bytes,
                b.encryption, b.encryption_key_id`;

/** `b` is good: stored and verified by a restore. */
const GOOD = (alias: string) => Prisma.raw(`(${alias}.state = 'completed' AND ${alias}.verification_state = 'verified')`);

/**
 * True (SQL) when backup `b` is not busy: its verification is settled, the job that produced it
 * has finished, and no verify job for it is pending or running.
 */
const IDLE = Prisma.sql`
      b.verification_state <> 'pending'
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = b.job_id AND j.state IN ('pending', 'running'))
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.type = 'verify' AND j.backup_id = b.id AND j.state IN ('pending', 'running'))`;

/** Serialises deletions of one project's backups until the caller's transaction ends. */
export async function lockProjectBackups(tx: Tx, projectId: string): Promise<void> {
  // 64-bit hash of a namespaced key; a collision only serialises two projects' deletions.
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`capy:backups:${projectId}`}, 0))::text AS locked`;
}

export type DeleteBackupResult = { outcome: "deleted"; row: DeletedBackupRow } | { outcome: "not_found" } | { outcome: "busy" };

/**
 * Deletes one backup row of `projectId` unless it is busy (see IDLE). The artifact is left to the
 * caller (delete it once this resolves `deleted`).
 */
export async function deleteIdleBackup(db: Db, projectId: string, backupId: string, onDeleted: OnBackupDeleted): Promise<DeleteBackupResult> {
  return db.$transaction(async (tx) => {
    await lockProjectBackups(tx, projectId);
    const rows = await tx.$queryRaw<DeletedBackupRow[]>`
      DELETE FROM backups b
       WHERE b.id = ${backupId} AND b.project_id = ${projectId} AND ${IDLE}
      ${RETURNED}`;
    if (rows[0]) {
      await onDeleted(tx, rows[0]);
      return { outcome: "deleted", row: rows[0] };
    }
    const exists = await tx.backup.count({ where: { id: backupId, projectId } });
    return exists ? { outcome: "busy" } : { outcome: "not_found" };
  });
}

export interface RetentionCandidate {
  id: string;
  project_id: string;
  created_at: Date;
}

/**
 * One page of scheduled backups past their schedule's retention_days at `now`, oldest first, after
 * `after` (keyset: created_at, id): never a project's newest good backup (one window over each
 * project's backups), never a busy one, never an on-demand one (schedule_id null), nor one whose
 * schedule no longer exists.
 */
export function findRetentionCandidates(
  db: Db,
  options: { now: Date; projectId?: string; after?: { createdAt: Date; id: string }; limit: number },
): Promise<RetentionCandidate[]> {
  const project = options.projectId === undefined ? Prisma.empty : Prisma.sql`AND b.project_id = ${options.projectId}`;
  const after = options.after ? Prisma.sql`AND (r.created_at, r.id) > (${options.after.createdAt}::timestamptz, ${options.after.id})` : Prisma.empty;
  return db.$queryRaw<RetentionCandidate[]>`
    SELECT r.id, r.project_id, r.created_at
      FROM (
        SELECT b.id, b.project_id, b.schedule_id, b.created_at, ${GOOD("b")} AS good,
               row_number() OVER (PARTITION BY b.project_id, ${GOOD("b")} ORDER BY b.created_at DESC, b.id DESC) AS rank_in_kind
          FROM backups b
         WHERE TRUE ${project}
      ) r
      JOIN scheduled_backups s ON s.id = r.schedule_id AND s.project_id = r.project_id
      JOIN backups b ON b.id = r.id
     WHERE NOT (r.good AND r.rank_in_kind = 1)
       AND r.created_at < ${options.now}::timestamptz - make_interval(days => s.retention_days)
       AND ${IDLE}
       ${after}
     ORDER BY r.created_at, r.id
     LIMIT ${options.limit}`;
}

/**
 * Deletes one retention candidate's row if, at this moment and under the project's lock, it still
 * qualifies: scheduled, expired at `now`, idle, and not the project's newest good backup (a good
 * backup goes only when a newer good one exists). Null when it no longer qualifies or another
 * sweep deleted it first.
 */
export async function deleteExpiredBackup(
  db: Db,
  candidate: Pick<RetentionCandidate, "id" | "project_id">,
  now: Date,
  onDeleted: OnBackupDeleted,
): Promise<DeletedBackupRow | null> {
  return db.$transaction(async (tx) => {
    await lockProjectBackups(tx, candidate.project_id);
    const rows = await tx.$queryRaw<DeletedBackupRow[]>`
      DELETE FROM backups b
       WHERE b.id = ${candidate.id} AND b.project_id = ${candidate.project_id}
         AND EXISTS (SELECT 1 FROM scheduled_backups s
                      WHERE s.id = b.schedule_id AND s.project_id = b.project_id
                        AND b.created_at < ${now}::timestamptz - make_interval(days => s.retention_days))
         AND (NOT ${GOOD("b")}
              OR EXISTS (SELECT 1 FROM backups g
                          WHERE g.project_id = b.project_id AND ${GOOD("g")}
                            AND (g.created_at, g.id) > (b.created_at, b.id)))
         AND ${IDLE}
      ${RETURNED}`;
    if (rows[0]) await onDeleted(tx, rows[0]);
    return rows[0] ?? null;
  });
}

// Retention of scheduled backups: a scheduled backup older than its schedule's retention_days is
// deleted, artifact and row, except a project's newest good backup (completed and verified), a
// backup still being made or verified, and on-demand backups (schedule_id null), which stay until
// someone deletes them. The rules live in one place, @capy/db backup-deletion, shared with the
// API's DELETE endpoint.
//
// Runs in every worker: once at start, every RETENTION_SWEEP_INTERVAL_MS, and for one project
// right after one of its scheduled backups completed. Concurrent sweeps (in one process or many)
// are safe: candidates are only a hint; each row is deleted by one conditional DELETE that
// re-checks every rule under the project's advisory lock, and only the sweep whose DELETE removed
// the row removes the artifact. A second sweep therefore finds nothing to delete.
import { type Db, type DeletedBackupRow, findRetentionCandidates, newId } from "@capy/db";
import { deleteExpiredBackup } from "@capy/jobs";
import type { ArtifactStorage } from "@capy/storage";
import type { Logger } from "../logger.js";
import { runPeriodically } from "./periodic.js";

/** Candidates read per query (rows), so a large backlog never sits in memory at once. */
const PAGE_SIZE = 500;

export interface RetentionDeps {
  db: Db;
  storage: ArtifactStorage;
  log: Logger;
}

export interface SweepRetentionOptions extends RetentionDeps {
  /** Only this project's backups; every project when absent. */
  projectId?: string;
  /** The moment ages are measured from. */
  now?: Date;
  /** Recorded as actor_id of the `backup.deleted` audit events (actor_type "system"). */
  actorId?: string;
  /** Stops the sweep between two deletions (worker shutdown); what is left waits for the next one. */
  signal?: AbortSignal;
}

export interface RetentionSweepResult {
  /** Backups whose rows this sweep deleted (their artifacts too, unless listed in artifactErrors). */
  deleted: DeletedBackupRow[];
  /** Candidates that no longer qualified when deleted (another sweep was first, or they became busy). */
  skipped: number;
  /** Ids of deleted backups whose artifact could not be removed (orphans, logged). */
  artifactErrors: string[];
}

export async function sweepRetention(options: SweepRetentionOptions): Promise<RetentionSweepResult> {
  const { db, storage, log } = options;
  const now = options.now ?? new Date();
  const result: RetentionSweepResult = { deleted: [], skipped: 0, artifactErrors: [] };
  let after: { createdAt: Date; id: string } | undefined;
  for (;;) {
    const page = await findRetentionCandidates(db, { now, projectId: options.projectId, after, limit: PAGE_SIZE });
    for (const candidate of page) {
      if (options.signal?.aborted) return result;
      const row = await deleteExpiredBackup(db, candidate, now);
      if (!row) {
        result.skipped += 1;
        continue;
      }
      result.deleted.push(row);
      // The row is gone, so nothing points at the artifact any more: remove it now.
      try {
        await storage.delete(row.backup_key);
      } catch (error) {
        result.artifactErrors.push(row.id);
        log.error(
          { err: error instanceof Error ? error.message : String(error), backup_id: row.id, backup_key: row.backup_key },
          "retention deleted a backup row but could not remove its artifact; the artifact is orphaned",
        );
      }
      await recordDeletion(db, row, options.actorId ?? "retention", log);
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE_SIZE) break;
    after = { createdAt: last.created_at, id: last.id };
  }
  return result;
}

/** Best effort: the audit trail tells users where a scheduled backup went. */
async function recordDeletion(db: Db, row: DeletedBackupRow, actorId: string, log: Logger): Promise<void> {
  try {
    await db.auditEvent.create({
      data: {
        id: newId("aud"),
        organizationId: row.organization_id,
        projectId: row.project_id,
        actorType: "system",
        actorId,
        action: "backup.deleted",
        targetType: "backup",
        targetId: row.id,
        metadata: {
          reason: "retention",
          label: row.label,
          size_bytes: Number(row.size_bytes),
          schedule_id: row.schedule_id,
          created_at: row.created_at.toISOString(),
        },
      },
    });
  } catch (error) {
    log.warn({ err: error instanceof Error ? error.message : String(error), backup_id: row.id }, "audit event of a retention deletion not recorded");
  }
}

export interface RetentionSweepOptions extends RetentionDeps {
  /** Between sweeps of every project, ms (RETENTION_SWEEP_INTERVAL_MS). */
  intervalMs: number;
  /** This worker's id, recorded on the audit events of its deletions. */
  workerId: string;
}

export interface RetentionSweep {
  /**
   * Sweeps one project now (after one of its scheduled backups completed). Never throws: a
   * failure is logged and left to the next periodic sweep.
   */
  sweepProject(projectId: string): Promise<void>;
  /** Settles when the periodic sweep in progress (if any) has. */
  idle(): Promise<void>;
  /** No further sweeps; those in progress stop after their current deletion, and this resolves once they have. */
  stop(): Promise<void>;
}

/**
 * Sweeps every project now and then every `intervalMs` until stopped. Periodic sweeps never
 * overlap each other; a failed sweep is logged and retried at the next interval, it never stops
 * the worker. The timer does not keep the process alive.
 */
export function startRetentionSweep(options: RetentionSweepOptions): RetentionSweep {
  const { db, storage, intervalMs, workerId } = options;
  const log = options.log.child({ component: "retention" });
  let stopped = false;
  const projectSweeps = new Set<Promise<void>>();
  const stopping = new AbortController();

  const sweep = async (projectId?: string): Promise<void> => {
    const startedAt = Date.now();
    try {
      const result = await sweepRetention({ db, storage, log, projectId, actorId: workerId, signal: stopping.signal });
      log.info(
        {
          project_id: projectId ?? null,
          deleted_count: result.deleted.length,
          deleted: result.deleted.slice(0, 100).map((row) => row.id),
          skipped: result.skipped,
          artifact_errors: result.artifactErrors.length,
          duration_ms: Date.now() - startedAt,
        },
        "retention sweep finished",
      );
    } catch (error) {
      log.warn(
        { err: error instanceof Error ? error.message : String(error), project_id: projectId ?? null },
        "retention sweep failed; retrying at the next interval",
      );
    }
  };

  const periodic = runPeriodically(() => sweep(), intervalMs);
  return {
    async sweepProject(projectId) {
      if (stopped) return;
      const done = sweep(projectId);
      projectSweeps.add(done);
      await done.finally(() => projectSweeps.delete(done));
    },
    idle: () => periodic.idle(),
    async stop() {
      stopped = true;
      stopping.abort();
      await Promise.all([periodic.stop(), ...projectSweeps]);
    },
  };
}

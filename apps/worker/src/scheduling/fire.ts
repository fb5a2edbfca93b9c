// Firing a schedule: the one function both a BullMQ scheduler firing and the reconciler's
// catch-up call. The due time comes from the schedule row (Postgres is the truth), never from
// the Redis job, and (schedule_id, due_at) is unique on jobs, so a duplicate, stale or late
// firing creates nothing new: whatever fires, each due time gets at most one backup job.
import { JOB_KINDS } from "@capy/contracts";
import { newId, type Db } from "@capy/db";
import { enqueueJob, latestDueAt, type BackupQueue } from "@capy/queue";

/**
 * How far ahead of the due time a scheduler firing still counts for it (ms): BullMQ computes
 * the delay with the producer's clock and promotes with Redis's, so a firing may reach a
 * worker whose clock reads a little before hh:mm:00.
 */
export const FIRE_CLOCK_TOLERANCE_MS = 5_000;

export interface FireDeps {
  db: Db;
  backupQueue: BackupQueue;
  /** Missed-run policy: a due time older than this (hours) is skipped, not run late. */
  catchUpHours: number;
}

export interface FireOptions {
  now?: Date;
  /** See FIRE_CLOCK_TOLERANCE_MS; the reconciler's catch-up passes 0 (only past due times). */
  toleranceMs?: number;
}

export type FireResult =
  | { outcome: "created"; jobId: string; dueAt: Date }
  | { outcome: "exists"; jobId: string; dueAt: Date }
  | { outcome: "skipped"; reason: "missing" | "inactive" | "before_timing" | "too_old"; dueAt?: Date };

interface ScheduleRow {
  cron_hour: number;
  cron_minute: number;
  is_active: boolean;
  timing_since: Date;
}

/**
 * Creates (at most once) and enqueues the backup job of the schedule's latest due time, when the
 * schedule is active, that due time is not before its current timing took effect, and it is at
 * most `catchUpHours` old. Then last_job_id/last_run_at point at it (only ever forward).
 * Two SQL round trips and one Redis round trip per firing.
 */
export async function fireSchedule(deps: FireDeps, scheduleId: string, options: FireOptions = {}): Promise<FireResult> {
  const now = options.now ?? new Date();
  const toleranceMs = options.toleranceMs ?? FIRE_CLOCK_TOLERANCE_MS;
  const [row] = await deps.db.$queryRaw<ScheduleRow[]>`
    SELECT cron_hour, cron_minute, is_active, timing_since FROM scheduled_backups WHERE id = ${scheduleId}`;
  if (!row) return { outcome: "skipped", reason: "missing" };
  if (!row.is_active) return { outcome: "skipped", reason: "inactive" };
  const dueAt = latestDueAt({ cronHour: row.cron_hour, cronMinute: row.cron_minute }, new Date(now.getTime() + toleranceMs));
  if (dueAt < row.timing_since) return { outcome: "skipped", reason: "before_timing", dueAt };
  if (now.getTime() - dueAt.getTime() > deps.catchUpHours * 3_600_000) return { outcome: "skipped", reason: "too_old", dueAt };

  // One statement: the job row (the same shape as an on-demand backup: type backup, the
  // project's cluster and database, the schedule's label) and the schedule's last run. The
  // WHERE re-checks the timing, so a PUT that committed since the read above wins. A conflict
  // on (schedule_id, due_at) means another firing got there first: nothing is written.
  // locked_resource is built as databaseResource() builds it (the tests compare the two).
  const kind = JOB_KINDS.backup;
  const jobId = newId("job");
  const inserted = await deps.db.$queryRaw<Array<{ id: string }>>`
    WITH ins AS (
      INSERT INTO jobs (id, type, state, phase, max_attempts, cluster_id, locked_resource, organization_id, project_id,
                        label, schedule_id, due_at, created_at, updated_at)
      SELECT ${jobId}, 'backup', 'pending', 'queued', ${kind.maxAttempts}, p.cluster_id,
             'database:' || p.cluster_id || '/' || p.database_name, s.organization_id, s.project_id, s.label, s.id, ${dueAt}, now(), now()
      FROM scheduled_backups s JOIN projects p ON p.id = s.project_id
      WHERE s.id = ${scheduleId} AND s.is_active AND s.cron_hour = ${row.cron_hour} AND s.cron_minute = ${row.cron_minute}
        AND s.timing_since <= ${dueAt}
      ON CONFLICT (schedule_id, due_at) DO NOTHING
      RETURNING id, created_at
    ), upd AS (
      UPDATE scheduled_backups s SET last_job_id = ins.id, last_run_at = ins.created_at
      FROM ins WHERE s.id = ${scheduleId} AND (s.last_run_at IS NULL OR s.last_run_at < ins.created_at)
    )
    SELECT id FROM ins`;
  if (inserted.length > 0) {
    await enqueueJob(deps.backupQueue, { id: jobId, type: "backup" });
    return { outcome: "created", jobId, dueAt };
  }
  const existing = await deps.db.job.findUnique({ where: { scheduleId_dueAt: { scheduleId, dueAt } }, select: { id: true, state: true } });
  if (!existing) return { outcome: "skipped", reason: "before_timing", dueAt }; // the timing changed under us
  // The firing that created it may have died before enqueueing; adding the same job id again
  // is a no-op in BullMQ, so a still-pending row is (re-)enqueued.
  if (existing.state === "pending") await enqueueJob(deps.backupQueue, { id: existing.id, type: "backup" });
  return { outcome: "exists", jobId: existing.id, dueAt };
}

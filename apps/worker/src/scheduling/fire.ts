// Firing a schedule: the one function both a BullMQ scheduler firing and the reconciler's
// catch-up call. The due time comes from the schedule row (Postgres is the truth), never from
// the Redis job, and (schedule_id, due_at) is unique on jobs, so a duplicate, stale or late
// firing creates nothing new: whatever fires, each due time gets at most one backup job.
import type { Db, Prisma } from "@capy/db";
import { enqueueJob, insertJobRows } from "@capy/jobs";
import type { BackupQueue } from "@capy/queue";

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
  | { outcome: "skipped"; reason: "missing" | "inactive" | "before_timing" | "too_old" | "already_ran"; dueAt?: Date };

interface Candidate {
  sid: string;
  organization_id: string;
  project_id: string;
  label: string | null;
  is_active: boolean;
  timing_since: Date;
  last_run_at: Date | null;
  cluster_id: string;
  database_name: string;
  due: Date;
  existing_id: string | null;
  existing_state: string | null;
}

/** One schedule's firing; see fireSchedules. */
export async function fireSchedule(deps: FireDeps, scheduleId: string, options: FireOptions = {}): Promise<FireResult> {
  return (await fireSchedules(deps, [scheduleId], options)).get(scheduleId)!;
}

/**
 * Fires schedules: for each, creates (at most once) and enqueues the backup job of its latest
 * due time, when the schedule is active, that due time is not before its current timing took
 * effect, and it is at most `catchUpHours` old; last_job_id/last_run_at then point at it (only
 * ever forward). A batch is one transaction of three statements (read, insert, update) and one
 * pipelined burst of Redis commands, so 10,000 schedules sharing a minute cost a few hundred
 * round trips, not tens of thousands.
 */
export async function fireSchedules(deps: FireDeps, scheduleIds: string[], options: FireOptions = {}): Promise<Map<string, FireResult>> {
  const now = options.now ?? new Date();
  const toleranceMs = options.toleranceMs ?? FIRE_CLOCK_TOLERANCE_MS;
  const ids = [...new Set(scheduleIds)];
  const { candidates, created } = await deps.db.$transaction(async (tx) => {
    const candidates = await readCandidates(tx, ids, now, toleranceMs);
    const due = candidates.filter((c) => !c.existing_id && isDue(c, now, toleranceMs, deps.catchUpHours));
    // The one insert path (@capy/jobs): the row has the same shape as an on-demand backup's. A
    // conflict on (schedule_id, due_at) means another firing got there first: that row is left out.
    const created = await insertJobRows(
      tx,
      due.map((c) => ({
        type: "backup",
        organizationId: c.organization_id,
        projectId: c.project_id,
        clusterId: c.cluster_id,
        databaseName: c.database_name,
        label: c.label,
        scheduleId: c.sid,
        dueAt: c.due,
      })),
      { skipDuplicates: true },
    );
    // last_run_at is the firing's clock (the one due times are computed with), so the
    // already-ran check compares like with like; it only ever moves forward.
    if (created.length > 0) {
      await tx.$executeRaw`
        UPDATE scheduled_backups s SET last_job_id = c.id, last_run_at = ${now}::timestamptz
          FROM unnest(${created.map((job) => job.id)}::text[], ${created.map((job) => job.scheduleId!)}::text[]) AS c(id, sid)
         WHERE s.id = c.sid AND (s.last_run_at IS NULL OR s.last_run_at < ${now}::timestamptz)`;
    }
    return { candidates, created: new Map(created.map((job) => [job.scheduleId!, job.id])) };
  });
  const rows = candidates.map((c) => ({ ...c, created_id: created.get(c.sid) ?? null }));

  const results = new Map<string, FireResult>();
  const toEnqueue: string[] = [];
  for (const row of rows) {
    const dueAt = row.due;
    if (!row.is_active) results.set(row.sid, { outcome: "skipped", reason: "inactive" });
    else if (dueAt < row.timing_since) results.set(row.sid, { outcome: "skipped", reason: "before_timing", dueAt });
    else if (now.getTime() - dueAt.getTime() > deps.catchUpHours * 3_600_000) results.set(row.sid, { outcome: "skipped", reason: "too_old", dueAt });
    else if (row.created_id) {
      results.set(row.sid, { outcome: "created", jobId: row.created_id, dueAt });
      toEnqueue.push(row.created_id);
    } else {
      // Another firing created it: before this statement (seen here), or concurrently (not
      // visible to this statement's snapshot; read it now).
      const existing = row.existing_id
        ? { id: row.existing_id, state: row.existing_state! }
        : await deps.db.job.findUnique({ where: { scheduleId_dueAt: { scheduleId: row.sid, dueAt } }, select: { id: true, state: true } });
      if (!existing) {
        const ran = row.last_run_at !== null && row.last_run_at.getTime() >= dueAt.getTime() - toleranceMs;
        // Otherwise the timing changed under this statement.
        results.set(row.sid, { outcome: "skipped", reason: ran ? "already_ran" : "before_timing", dueAt });
        continue;
      }
      results.set(row.sid, { outcome: "exists", jobId: existing.id, dueAt });
      // The firing that created it may have died before enqueueing; adding the same job id
      // again is a no-op in BullMQ, so a still-pending row is (re-)enqueued.
      if (existing.state === "pending") toEnqueue.push(existing.id);
    }
  }
  for (const id of ids) if (!results.has(id)) results.set(id, { outcome: "skipped", reason: "missing" });
  // Sent back to back on one connection (ioredis pipelines concurrent commands).
  await Promise.all(toEnqueue.map((id) => enqueueJob(deps.backupQueue, { id, type: "backup" })));
  return results;
}

/**
 * Each schedule's latest due time, computed from its row: the latest hh:mm UTC at or before now
 * (plus the clock tolerance), as latestDueAt() computes it (the tests hold the two together), with
 * the job already created for it, if any. One statement for the whole batch.
 */
function readCandidates(tx: Prisma.TransactionClient, ids: string[], now: Date, toleranceMs: number): Promise<Candidate[]> {
  const horizon = new Date(now.getTime() + toleranceMs);
  return tx.$queryRaw<Candidate[]>`
    WITH cand AS (
      SELECT s.id AS sid, s.organization_id, s.project_id, s.label, s.is_active, s.timing_since, s.last_run_at,
             p.cluster_id, p.database_name,
             CASE WHEN d.due > ${horizon}::timestamptz THEN d.due - interval '1 day' ELSE d.due END AS due
      FROM unnest(${ids}::text[]) AS i(sid)
      JOIN scheduled_backups s ON s.id = i.sid
      JOIN projects p ON p.id = s.project_id
      CROSS JOIN LATERAL (
        SELECT (date_trunc('day', ${horizon}::timestamptz AT TIME ZONE 'UTC')
                + make_interval(hours => s.cron_hour, mins => s.cron_minute)) AT TIME ZONE 'UTC' AS due
      ) d
    )
    SELECT c.*, j.id AS existing_id, j.state AS existing_state
    FROM cand c LEFT JOIN jobs j ON j.schedule_id = c.sid AND j.due_at = c.due`;
}

/**
 * The schedule is active, the due time is not before its current timing took effect, at most
 * `catchUpHours` old, and (belt and braces beside the unique key) not one it already ran for (its
 * job row since deleted, say).
 */
function isDue(c: Candidate, now: Date, toleranceMs: number, catchUpHours: number): boolean {
  return (
    c.is_active &&
    c.due >= c.timing_since &&
    (c.last_run_at === null || c.last_run_at.getTime() < c.due.getTime() - toleranceMs) &&
    now.getTime() - c.due.getTime() <= catchUpHours * 3_600_000
  );
}

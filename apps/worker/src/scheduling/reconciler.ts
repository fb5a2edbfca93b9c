// The schedule reconciler: Postgres is the truth, Redis a copy. At start and every
// SCHEDULE_RECONCILE_INTERVAL_MS it makes Redis hold exactly one scheduler per active schedule
// (right pattern, UTC) and none for inactive or deleted ones, then runs the missed-run policy:
// an active schedule whose latest due time has no job yet gets it now if that due time is at
// most SCHEDULE_CATCH_UP_HOURS old and not before its timing took effect (fireSchedule decides).
// So a Redis flush or restart, or a whole system that was down, loses no schedule.

import { SCHEDULE_QUEUE } from "@capy/contracts";
import type { Db } from "@capy/db";
import {
  type BackupQueue,
  latestDueAt,
  SCHEDULE_TZ,
  type ScheduleQueue,
  scheduleIdOf,
  scheduleLockKey,
  schedulePattern,
  syncScheduler,
  waitForRedisReady,
} from "@capy/queue";
import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";
import { type Periodic, runPeriodically } from "../maintenance/periodic.js";
import { fireSchedules } from "./fire.js";

/** Removals of orphaned schedulers in flight at once. */
const PARALLELISM = 16;
/** Schedules repaired per transaction (their locks, one read, pipelined scheduler writes). */
const REPAIR_BATCH = 200;
/** Candidate (schedule, due time) pairs checked against jobs per query. */
const CATCH_UP_BATCH = 5_000;
/**
 * A due time younger than this (ms) is left to its scheduler firing: the catch-up is for runs
 * that were missed, and racing a storm of firings for the same rows would only add lock waits.
 */
const CATCH_UP_MIN_AGE_MS = 60_000;
/** Catch-up firings per statement (see fireSchedules). */
const FIRE_BATCH = 500;

export interface ReconcilerDeps {
  db: Db;
  scheduleQueue: ScheduleQueue;
  backupQueue: BackupQueue;
  catchUpHours: number;
  log: Logger;
}

export interface ReconcileReport {
  upserted: number;
  removed: number;
  caughtUp: number;
}

interface Row {
  id: string;
  project_id: string;
  name: string;
  cron_hour: number;
  cron_minute: number;
  is_active: boolean;
  timing_since: Date;
}

/** Runs `fn` over `items` with at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

export async function reconcileSchedules(deps: ReconcilerDeps, now = new Date()): Promise<ReconcileReport> {
  const { db, scheduleQueue, log } = deps;
  const rows = await db.$queryRaw<Row[]>`
    SELECT id, project_id, name, cron_hour, cron_minute, is_active, timing_since FROM scheduled_backups`;
  const byId = new Map(rows.map((row) => [row.id, row]));

  // Every scheduler in Redis. In one read, not pages: BullMQ orders schedulers by their next
  // run, which changes under a storm of firings, so pages would skip some and the reconciler
  // would see them as missing (each repair re-checks under the lock anyway).
  const inRedis = new Map<string, { pattern?: string; tz?: string }>();
  for (const scheduler of await scheduleQueue.getJobSchedulers(0, -1, true)) {
    inRedis.set(scheduler.key, { pattern: scheduler.pattern, tz: scheduler.tz });
  }

  // What differs: active rows whose scheduler is missing or wrong, and schedulers of rows that
  // are inactive, deleted, or not ours.
  const toSync = new Set<string>();
  const orphans: string[] = [];
  for (const row of rows) {
    if (!row.is_active) continue;
    const scheduler = inRedis.get(`schedule:${row.id}`);
    if (!scheduler || scheduler.pattern !== schedulePattern({ cronHour: row.cron_hour, cronMinute: row.cron_minute }) || scheduler.tz !== SCHEDULE_TZ) {
      toSync.add(row.id);
    }
  }
  for (const key of inRedis.keys()) {
    const id = scheduleIdOf(key);
    const row = id ? byId.get(id) : undefined;
    if (row && !row.is_active) toSync.add(row.id);
    else if (!row) orphans.push(key);
  }

  // Repairs re-read the rows under the schedules' locks, the ones the API's PUT holds while it
  // writes a row and its scheduler: a PUT that committed after the read above is never undone
  // by this (older) view. Batched, so 10,000 repairs after a flush are 50 transactions. Locks
  // are taken in sorted order, so two reconcilers never deadlock (a PUT takes only one).
  let upserted = 0;
  let removed = 0;
  const repairs = [...toSync].sort((a, b) => lockOf(a).localeCompare(lockOf(b)));
  function lockOf(id: string): string {
    const row = byId.get(id)!;
    return scheduleLockKey(row.project_id, row.name);
  }
  for (let i = 0; i < repairs.length; i += REPAIR_BATCH) {
    const batch = repairs.slice(i, i + REPAIR_BATCH);
    try {
      await db.$transaction(
        async (tx) => {
          await tx.$queryRaw`SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))::int AS n FROM unnest(${batch.map(lockOf)}::text[]) AS k`;
          const current = new Map((await tx.scheduledBackup.findMany({ where: { id: { in: batch } } })).map((row) => [row.id, row]));
          // Sent back to back on one connection (ioredis pipelines concurrent commands).
          await Promise.all(batch.map((id) => syncScheduler(scheduleQueue, id, current.get(id) ?? null, 20_000)));
          for (const id of batch) {
            if (current.get(id)?.isActive)
              upserted++; // or found right on the re-check
            else removed++;
          }
        },
        // Waiting behind PUTs, then a burst of up to REPAIR_BATCH scheduler writes (ms).
        { maxWait: 5_000, timeout: 30_000 },
      );
    } catch (err) {
      log.warn({ err, schedules: batch.length }, "could not sync a batch of schedulers; retrying next round");
    }
  }
  // A scheduler whose row no longer exists: no PUT can bring that id back (a new row gets a new
  // id), so it is removed without a lock.
  await eachLimited(orphans, PARALLELISM, async (key) => {
    await scheduleQueue.removeJobScheduler(key);
    removed++;
  });

  // Missed runs: the latest due time (only ones already passed) of each active schedule,
  // within the catch-up window and not before its timing took effect, that has no job.
  const windowMs = deps.catchUpHours * 3_600_000;
  const candidates = rows
    .filter((row) => row.is_active)
    .map((row) => ({ row, dueAt: latestDueAt({ cronHour: row.cron_hour, cronMinute: row.cron_minute }, now) }))
    .filter(({ row, dueAt }) => {
      const age = now.getTime() - dueAt.getTime();
      return dueAt >= row.timing_since && age >= CATCH_UP_MIN_AGE_MS && age <= windowMs;
    });
  const missing: string[] = [];
  for (let i = 0; i < candidates.length; i += CATCH_UP_BATCH) {
    const batch = candidates.slice(i, i + CATCH_UP_BATCH);
    const found = await db.$queryRaw<Array<{ schedule_id: string }>>`
      SELECT j.schedule_id FROM jobs j
      JOIN unnest(${batch.map((c) => c.row.id)}::text[], ${batch.map((c) => c.dueAt)}::timestamptz[]) AS c(sid, due)
        ON j.schedule_id = c.sid AND j.due_at = c.due`;
    const have = new Set(found.map((f) => f.schedule_id));
    for (const c of batch) if (!have.has(c.row.id)) missing.push(c.row.id);
  }
  let caughtUp = 0;
  for (let i = 0; i < missing.length; i += FIRE_BATCH) {
    const batch = missing.slice(i, i + FIRE_BATCH);
    try {
      for (const [id, result] of await fireSchedules(deps, batch, { now, toleranceMs: 0 })) {
        if (result.outcome !== "created") continue;
        caughtUp++;
        log.info({ schedule_id: id, job_id: result.jobId, due_at: result.dueAt.toISOString() }, "missed scheduled run caught up");
      }
    } catch (err) {
      log.warn({ err, schedules: batch.length }, "catch-up firing failed; retrying next round");
    }
  }
  return { upserted, removed, caughtUp };
}

/** At start, how long the first round waits for its Redis connection before trying anyway (ms). */
const FIRST_ROUND_REDIS_WAIT_MS = 10_000;

/**
 * Reconciles now and every `intervalMs` after the previous round. A Redis lock (SET NX, expiring after 80 % of the
 * interval) lets one process in the fleet do each round; the others skip it. Everything it
 * writes is idempotent, so two overlapping rounds (e.g. one outliving its lock) are harmless.
 */
export function startScheduleReconciler(deps: ReconcilerDeps & { redis: Redis; prefix: string; holder: string; intervalMs: number }): Periodic {
  const lockKey = `${deps.prefix}:${SCHEDULE_QUEUE}:reconcile-lock`;
  const lockMs = Math.max(100, Math.floor(deps.intervalMs * 0.8));
  let first = true;

  const round = async () => {
    try {
      // The producer connection is new at start and fails fast while connecting: the first
      // round waits for it rather than skip the start-up catch-up for a whole interval.
      if (first) {
        first = false;
        await waitForRedisReady(deps.redis, FIRST_ROUND_REDIS_WAIT_MS);
      }
      const acquired = await deps.redis.set(lockKey, deps.holder, "PX", lockMs, "NX");
      if (acquired !== "OK") return;
      const startedAt = Date.now();
      const report = await reconcileSchedules(deps);
      deps.log.info({ ...report, duration_ms: Date.now() - startedAt }, "schedules reconciled");
    } catch (err) {
      deps.log.warn({ err }, "schedule reconciliation failed; retrying next interval");
    }
  };
  return runPeriodically(round, deps.intervalMs);
}

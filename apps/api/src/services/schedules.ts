// Scheduled backups. Each project has one schedule, "default", replaced as a whole by PUT.
// The row is the truth; its BullMQ job scheduler (fired by the workers) is synced on every PUT,
// and the worker's schedule reconciler repairs Redis whenever that sync could not happen.

import { type Db, newId, type Project, readProjectSchedules, type ScheduledBackup } from "@capy/db";
import { type ScheduleQueue, syncScheduler, withScheduleLock } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";

export const DEFAULT_SCHEDULE = "default";

/** How long a PUT waits for Redis to take the scheduler before leaving it to the reconciler (ms). */
const SCHEDULER_SYNC_TIMEOUT_MS = 2_000;

export interface ScheduleSettings {
  cronHour: number;
  cronMinute: number;
  isActive: boolean;
  retentionDays: number;
  label: string | null;
}

export interface ScheduleDeps {
  db: Db;
  scheduleQueue: ScheduleQueue;
  log: FastifyBaseLogger;
}

/** Oldest first. A hot read: SQL on Prisma's pool (see @capy/db hot-paths). */
export function listSchedules(db: Db, project: Project): Promise<readonly ScheduledBackup[]> {
  return readProjectSchedules(db, project.id);
}

/**
 * Creates or replaces the project's default schedule; unique (project_id, name) keeps it one row.
 * Under the schedule's advisory lock, the row is written and then its scheduler, so concurrent
 * PUTs (from any number of API processes) reach Redis in the order they reached Postgres. When
 * Redis does not answer in time, the PUT still succeeds: the reconciler syncs it later.
 */
export async function putDefaultSchedule({ db, scheduleQueue, log }: ScheduleDeps, project: Project, settings: ScheduleSettings): Promise<ScheduledBackup> {
  return withScheduleLock(db, project.id, DEFAULT_SCHEDULE, async (tx, now) => {
    const where = { projectId_name: { projectId: project.id, name: DEFAULT_SCHEDULE } };
    const previous = await tx.scheduledBackup.findUnique({ where });
    // The timing takes effect now when it is new: a created row, another hour or minute, or a
    // re-activation. Due times before it never fire (a moved time moves the next run; no
    // firing of an old timing, and no catch-up of runs from before a re-activation).
    const sameTiming =
      previous !== null && previous.cronHour === settings.cronHour && previous.cronMinute === settings.cronMinute && (previous.isActive || !settings.isActive);
    const schedule = await tx.scheduledBackup.upsert({
      where,
      create: {
        id: newId("sch"),
        organizationId: project.organizationId,
        projectId: project.id,
        name: DEFAULT_SCHEDULE,
        ...settings,
        timingSince: now,
      },
      update: sameTiming ? settings : { ...settings, timingSince: now },
    });
    try {
      await syncScheduler(scheduleQueue, schedule.id, schedule, SCHEDULER_SYNC_TIMEOUT_MS);
    } catch (err) {
      log.warn({ err, scheduleId: schedule.id }, "scheduler sync failed; the schedule reconciler will sync it");
    }
    return schedule;
  });
}

// Scheduled backups in Redis: one BullMQ job scheduler per active schedule on SCHEDULE_QUEUE,
// id `schedule:<scheduleId>`, cron `<m> <h> * * *` in UTC. Postgres is the source of truth; the
// API (on PUT) and the worker's reconciler (periodically) use these same functions, so both
// write exactly the same scheduler for the same row.

import { SCHEDULE_QUEUE, type ScheduleFirePayload } from "@capy/contracts";
import type { Db, Prisma } from "@capy/db";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { withTimeout } from "./timeout.js";

export type ScheduleQueue = Queue<ScheduleFirePayload, void, string>;

/** The fields of a schedule row that decide its scheduler. */
export interface ScheduleTiming {
  id: string;
  cronHour: number;
  cronMinute: number;
  isActive: boolean;
}

/** Name of the fired jobs (BullMQ job name); the payload carries the schedule id. */
const SCHEDULE_FIRE_JOB = "fire";

export function createScheduleQueue(connection: Redis, prefix: string): ScheduleQueue {
  const queue: ScheduleQueue = new Queue(SCHEDULE_QUEUE, { connection, prefix });
  queue.on("error", () => {});
  return queue;
}

export function schedulerId(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}

/** The schedule id a scheduler id names, or null for a scheduler this code did not create. */
export function scheduleIdOf(schedulerKey: string): string | null {
  return schedulerKey.startsWith("schedule:") ? schedulerKey.slice("schedule:".length) : null;
}

export function schedulePattern(timing: Pick<ScheduleTiming, "cronHour" | "cronMinute">): string {
  return `${timing.cronMinute} ${timing.cronHour} * * *`;
}

/** Every scheduler runs in UTC: cron_hour/cron_minute are UTC by contract. */
export const SCHEDULE_TZ = "UTC";

/**
 * The next firing strictly after `from` (the same instant BullMQ's cron-parser computes for
 * `schedulePattern` in UTC, which has no DST; the test compares the two); null when the schedule
 * is inactive. Plain arithmetic, not cron-parser: every schedule read computes it, and parsing a
 * cron expression per row cost the API more than the rest of the read.
 */
export function nextRunAt(timing: Pick<ScheduleTiming, "cronHour" | "cronMinute" | "isActive">, from = new Date()): Date | null {
  if (!timing.isActive) return null;
  const next = new Date(from.getTime());
  next.setUTCHours(timing.cronHour, timing.cronMinute, 0, 0);
  if (next.getTime() <= from.getTime()) next.setUTCDate(next.getUTCDate() + 1);
  return next;
}

/**
 * The latest occurrence of hh:mm UTC at or before `now` (a daily schedule has one per day).
 * Plain arithmetic, not cron-parser: it runs once per firing, 10,000 times in a busy minute.
 */
export function latestDueAt(timing: Pick<ScheduleTiming, "cronHour" | "cronMinute">, now: Date): Date {
  const due = new Date(now.getTime());
  due.setUTCHours(timing.cronHour, timing.cronMinute, 0, 0);
  if (due.getTime() > now.getTime()) due.setUTCDate(due.getUTCDate() - 1);
  return due;
}

/**
 * Makes Redis match one schedule row: an upserted scheduler when active, none otherwise (also
 * for a deleted row: pass `null` with the id). Upserting is idempotent in BullMQ (same id, same
 * pattern); it replaces the pending delayed firing with one at the new time.
 */
export async function syncScheduler(queue: ScheduleQueue, scheduleId: string, timing: ScheduleTiming | null, timeoutMs = 5_000): Promise<void> {
  await withTimeout(writeScheduler(queue, scheduleId, timing), timeoutMs, "scheduler sync");
}

async function writeScheduler(queue: ScheduleQueue, scheduleId: string, timing: ScheduleTiming | null): Promise<void> {
  if (timing?.isActive) {
    // A scheduler that is already right is left alone: upserting it replaces its pending
    // firing with one computed from now, so an upsert landing just after hh:mm:00, before the
    // firing was picked up, would silently skip today's run (BullMQ 6 behaviour).
    const current = await queue.getJobScheduler(schedulerId(scheduleId));
    if (current && current.pattern === schedulePattern(timing) && current.tz === SCHEDULE_TZ) return;
    await queue.upsertJobScheduler(
      schedulerId(scheduleId),
      { pattern: schedulePattern(timing), tz: SCHEDULE_TZ },
      {
        name: SCHEDULE_FIRE_JOB,
        data: { scheduleId },
        opts: {
          // A firing is cheap and idempotent: retry (1, 2, 4, 8 s: through a short database
          // hiccup), keep nothing that completed (Postgres has the job row) and failures for a
          // day (seconds). What still fails is caught up by the reconciler (missed-run policy).
          attempts: 5,
          backoff: { type: "exponential", delay: 1_000 },
          removeOnComplete: true,
          removeOnFail: { age: 24 * 3_600 },
        },
      },
    );
  } else {
    await queue.removeJobScheduler(schedulerId(scheduleId));
  }
}

/** The advisory lock key of a schedule (see withScheduleLock); hashed with hashtextextended. */
export function scheduleLockKey(projectId: string, name: string): string {
  return `capy-schedule:${projectId}:${name}`;
}

/**
 * Runs `fn` in a transaction holding a per-schedule advisory lock (keyed by project and
 * schedule name, which exist before the row does). Writers of a schedule row and of its
 * scheduler take it, so Redis is always written in the same order as Postgres: two API
 * processes PUTting at once cannot leave Redis with the older timing. Returns fn's result.
 */
export async function withScheduleLock<T>(
  db: Db,
  projectId: string,
  name: string,
  fn: (tx: Prisma.TransactionClient, now: Date) => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  return db.$transaction(
    async (tx) => {
      // One round trip: the lock and the transaction's clock (the database's, shared by all hosts).
      const [row] = await tx.$queryRaw<Array<{ now: Date }>>`
        SELECT now() AS now, pg_advisory_xact_lock(hashtextextended(${scheduleLockKey(projectId, name)}, 0)) IS NULL AS locked`;
      return fn(tx, row!.now);
    },
    // Long enough to wait behind another writer and a Redis round trip with its deadline (ms).
    { maxWait: 5_000, timeout: options.timeoutMs ?? 15_000 },
  );
}

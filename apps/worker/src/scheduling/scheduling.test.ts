// Firing schedules and reconciling them, against a real metadata database and a private
// redis-server (these tests flush it). Times are injected, so the missed-run policy and moved
// times are tested at chosen instants instead of waiting for the clock.

import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDb, createProject, type Db, generateEncryptionKey, Keyring, newId, registerCluster, type ScheduledBackup, withDatabase } from "@capy/db";
import { databaseResource } from "@capy/jobs";
import { type BackupQueue, createBackupQueue, createScheduleQueue, latestDueAt, nextRunAt, type ScheduleQueue, schedulerId, syncScheduler } from "@capy/queue";
import { createEmptyDatabase, createMetadataDatabase, type PrivateRedis, startPrivateRedis, startWorker, type TestDatabase, waitFor } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { fireSchedule } from "./fire.js";
import { reconcileSchedules } from "./reconciler.js";

const prefix = "capysched";
const log = createLogger("silent", {});
let meta: TestDatabase;
let source: TestDatabase;
let db: Db;
let redisServer: PrivateRedis;
let producer: Redis;
let backupQueue: BackupQueue;
let scheduleQueue: ScheduleQueue;
const encryptionKey = generateEncryptionKey();
let projects = 0;

beforeAll(async () => {
  [meta, source, redisServer] = await Promise.all([createMetadataDatabase(), createEmptyDatabase(), startPrivateRedis()]);
  db = createDb(meta.url, { maxConnections: 8 });
  producer = new Redis(redisServer.url, { maxRetriesPerRequest: 3 });
  backupQueue = createBackupQueue(producer, prefix);
  scheduleQueue = createScheduleQueue(producer, prefix);
});

afterAll(async () => {
  await scheduleQueue?.close();
  await backupQueue?.close();
  producer?.disconnect();
  await db?.$disconnect();
  await Promise.all([redisServer?.stop(), meta?.drop(), source?.drop()]);
});

beforeEach(async () => {
  await db.job.deleteMany();
  await db.scheduledBackup.deleteMany();
  await redisServer.flush();
});

const at = (iso: string) => new Date(iso);
const deps = (catchUpHours = 6) => ({ db, backupQueue, scheduleQueue, catchUpHours, log });

/** A schedule on a project of its own, whose timing took effect at `timingSince`. */
async function schedule(hour: number, minute: number, options: { active?: boolean; timingSince?: Date; label?: string } = {}): Promise<ScheduledBackup> {
  await registerCluster(db, { adminUrl: withDatabase(source.url, "postgres"), keyring: new Keyring(encryptionKey) });
  const tenant = await createProject(db, {
    organizationName: "acme",
    projectName: `p${++projects}`,
    databaseUrl: source.url,
    keyring: new Keyring(encryptionKey),
  });
  return db.scheduledBackup.create({
    data: {
      id: newId("sch"),
      organizationId: tenant.organization_id,
      projectId: tenant.project_id,
      cronHour: hour,
      cronMinute: minute,
      isActive: options.active ?? true,
      label: options.label ?? null,
      timingSince: options.timingSince ?? at("2026-01-01T00:00:00Z"),
    },
  });
}

const jobsOf = (scheduleId: string) => db.job.findMany({ where: { scheduleId } });

describe("fireSchedule", () => {
  it("creates exactly one backup job per due time, however often and however early it fires", async () => {
    const s = await schedule(10, 0, { label: "nightly" });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => fireSchedule(deps(), s.id, { now: at(`2026-03-10T10:00:0${i % 3}.500Z`) })));
    expect(results.filter((r) => r.outcome === "created")).toHaveLength(1);
    expect(results.filter((r) => r.outcome === "exists")).toHaveLength(9);
    // A firing that reaches a worker whose clock is a little behind still counts for 10:00.
    expect((await fireSchedule(deps(), s.id, { now: at("2026-03-10T09:59:57Z") })).outcome).toBe("exists");

    const jobs = await jobsOf(s.id);
    expect(jobs).toHaveLength(1);
    const job = jobs[0]!;
    const project = await db.project.findUniqueOrThrow({ where: { id: s.projectId } });
    // The same shape as an on-demand backup job.
    expect(job).toMatchObject({
      type: "backup",
      state: "pending",
      phase: "queued",
      attempts: 0,
      maxAttempts: 3,
      label: "nightly",
      projectId: s.projectId,
      organizationId: s.organizationId,
      clusterId: project.clusterId,
      lockedResource: databaseResource(project.clusterId, project.databaseName),
      dueAt: at("2026-03-10T10:00:00Z"),
    });
    expect(await backupQueue.getJob(job.id)).toMatchObject({ id: job.id, name: "backup", data: { jobId: job.id } });
    const after = await db.scheduledBackup.findUniqueOrThrow({ where: { id: s.id } });
    expect(after.lastJobId).toBe(job.id);
    // The firing's time (the first of the ten to commit).
    expect(after.lastRunAt!.getTime()).toBeGreaterThanOrEqual(at("2026-03-10T10:00:00.500Z").getTime());
    expect(after.lastRunAt!.getTime()).toBeLessThanOrEqual(at("2026-03-10T10:00:02.500Z").getTime());

    // Even with its job row gone, a due time the schedule already ran for is not run again.
    await db.job.delete({ where: { id: job.id } });
    expect(await fireSchedule(deps(), s.id, { now: at("2026-03-10T10:00:03Z") })).toMatchObject({ outcome: "skipped", reason: "already_ran" });
    expect(await jobsOf(s.id)).toHaveLength(0);

    // The next day is another due time: another job, and last_job_id moves forward.
    const next = await fireSchedule(deps(), s.id, { now: at("2026-03-11T10:00:01Z") });
    expect(next.outcome).toBe("created");
    expect((await db.scheduledBackup.findUniqueOrThrow({ where: { id: s.id } })).lastJobId).toBe((next as { jobId: string }).jobId);
  });

  it("computes the due time in SQL as latestDueAt does, across day and year ends", async () => {
    const lateNight = await schedule(23, 59);
    const midnight = await schedule(0, 0);
    expect(await fireSchedule(deps(), lateNight.id, { now: at("2027-01-01T00:00:02Z") })).toMatchObject({
      outcome: "created",
      dueAt: at("2026-12-31T23:59:00Z"),
    });
    // 2 s early for midnight: the clock tolerance makes it midnight's firing, in the new year.
    expect(await fireSchedule(deps(), midnight.id, { now: at("2026-12-31T23:59:58Z") })).toMatchObject({
      outcome: "created",
      dueAt: at("2027-01-01T00:00:00Z"),
    });
    expect(await fireSchedule(deps(), midnight.id, { now: at("2027-01-01T00:00:01Z") })).toMatchObject({
      outcome: "exists",
      dueAt: at("2027-01-01T00:00:00Z"),
    });
    for (const now of ["2026-03-10T10:00:00Z", "2026-03-10T23:58:59Z", "2026-02-28T23:59:30Z"]) {
      const result = await fireSchedule(deps(48), lateNight.id, { now: at(now), toleranceMs: 0 });
      expect((result as { dueAt: Date }).dueAt).toEqual(latestDueAt({ cronHour: 23, cronMinute: 59 }, at(now)));
    }
  });

  it("re-enqueues the job of a duplicate firing when the first firing died before enqueueing", async () => {
    const s = await schedule(4, 15);
    const first = await fireSchedule(deps(), s.id, { now: at("2026-03-10T04:15:00Z") });
    expect(first.outcome).toBe("created");
    const jobId = (first as { jobId: string }).jobId;
    await backupQueue.remove(jobId);
    expect(await backupQueue.getJob(jobId)).toBeUndefined();
    expect(await fireSchedule(deps(), s.id, { now: at("2026-03-10T04:15:02Z") })).toMatchObject({ outcome: "exists", jobId });
    expect(await backupQueue.getJob(jobId)).toBeDefined();
  });

  it("fires nothing for a moved time's old slot, an inactive schedule, or a due time before re-activation", async () => {
    // The time moved from 10:00 to 10:05 at 10:00:30: a late firing of the old 10:00 slot (and
    // of 10:05 yesterday) creates nothing; 10:05 today does.
    const moved = await schedule(10, 5, { timingSince: at("2026-03-10T10:00:30Z") });
    expect(await fireSchedule(deps(), moved.id, { now: at("2026-03-10T10:00:31Z") })).toMatchObject({ outcome: "skipped", reason: "before_timing" });
    expect(await fireSchedule(deps(), moved.id, { now: at("2026-03-10T10:05:00Z") })).toMatchObject({ outcome: "created" });

    const inactive = await schedule(10, 0, { active: false });
    expect(await fireSchedule(deps(), inactive.id, { now: at("2026-03-10T10:00:00Z") })).toMatchObject({ outcome: "skipped", reason: "inactive" });

    // Re-activated at 12:00 with the 10:00 timing: today's 10:00 (missed while inactive) is not run.
    const reactivated = await schedule(10, 0, { timingSince: at("2026-03-10T12:00:00Z") });
    expect(await fireSchedule(deps(), reactivated.id, { now: at("2026-03-10T12:00:05Z"), toleranceMs: 0 })).toMatchObject({
      outcome: "skipped",
      reason: "before_timing",
    });
    expect(await fireSchedule(deps(), reactivated.id, { now: at("2026-03-11T10:00:00Z") })).toMatchObject({ outcome: "created" });

    expect(await fireSchedule(deps(), "sch_gone", { now: at("2026-03-10T10:00:00Z") })).toMatchObject({ outcome: "skipped", reason: "missing" });
    expect(await jobsOf(inactive.id)).toHaveLength(0);
  });
});

describe("missed-run policy (reconciler catch-up)", () => {
  it("runs the latest missed due time once if it is at most SCHEDULE_CATCH_UP_HOURS old, skips older ones", async () => {
    const recent = await schedule(8, 0); // 2 h before "now": caught up
    const old = await schedule(3, 0); // 7 h before: skipped (window 6 h)
    const afterTiming = await schedule(8, 30, { timingSince: at("2026-03-10T09:00:00Z") }); // set after its slot
    const inactive = await schedule(9, 0, { active: false });
    const notYet = await schedule(11, 0); // due later today: yesterday's 11:00 is 23 h old
    const now = at("2026-03-10T10:00:00Z");

    const report = await reconcileSchedules(deps(6), now);
    expect(report.caughtUp).toBe(1);
    const jobs = await jobsOf(recent.id);
    expect(jobs.map((j) => j.dueAt)).toEqual([at("2026-03-10T08:00:00Z")]);
    for (const s of [old, afterTiming, inactive, notYet]) expect(await jobsOf(s.id)).toHaveLength(0);
    expect((await db.scheduledBackup.findUniqueOrThrow({ where: { id: recent.id } })).lastJobId).toBe(jobs[0]!.id);

    // A second round (or another worker's) catches up nothing more; nor does a real firing.
    expect((await reconcileSchedules(deps(6), at("2026-03-10T10:01:00Z"))).caughtUp).toBe(0);
    expect(await jobsOf(recent.id)).toHaveLength(1);

    // With a window of 0 hours nothing missed is ever run late.
    await db.job.deleteMany();
    expect((await reconcileSchedules(deps(0), now)).caughtUp).toBe(0);
  });
});

describe("reconcileSchedules", () => {
  it("restores every active schedule's scheduler after a Redis flush and removes the rest", async () => {
    const active = await Promise.all([schedule(1, 2), schedule(13, 45), schedule(23, 59)]);
    const inactive = await schedule(5, 5, { active: false });
    const now = at("2026-03-10T00:00:00Z"); // no due time in the catch-up window matters here

    // Redis drifted: one active schedule has a stale pattern, the inactive one and a deleted
    // one still have schedulers.
    await syncScheduler(scheduleQueue, active[0]!.id, { ...active[0]!, cronMinute: 3 });
    await syncScheduler(scheduleQueue, inactive.id, { ...inactive, isActive: true });
    await syncScheduler(scheduleQueue, "sch_deleted", { id: "sch_deleted", cronHour: 1, cronMinute: 1, isActive: true });
    let report = await reconcileSchedules(deps(), now);
    expect(report).toMatchObject({ upserted: 3, removed: 2 });
    const expectExactly = async () => {
      const schedulers = await scheduleQueue.getJobSchedulers(0, -1, true);
      expect(schedulers.map((s) => s.key).sort()).toEqual(active.map((s) => schedulerId(s.id)).sort());
      for (const s of active) {
        const scheduler = schedulers.find((x) => x.key === schedulerId(s.id))!;
        expect(scheduler).toMatchObject({ pattern: `${s.cronMinute} ${s.cronHour} * * *`, tz: "UTC", template: { data: { scheduleId: s.id } } });
        expect(scheduler.next).toBe(nextRunAt(s)!.getTime());
      }
    };
    await expectExactly();

    // Nothing to do when Redis already agrees.
    expect(await reconcileSchedules(deps(), now)).toMatchObject({ upserted: 0, removed: 0 });

    await redisServer.flush();
    expect(await scheduleQueue.getJobSchedulersCount()).toBe(0);
    report = await reconcileSchedules(deps(), now);
    expect(report).toMatchObject({ upserted: 3, removed: 0 });
    await expectExactly();
  });
});

describe("a real worker process", () => {
  it("catches up a run missed while it was down, and restores schedulers after a Redis flush", async () => {
    // Due 2 minutes ago (the system was down then); its timing took effect yesterday.
    const missedAt = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 2 * 60_000);
    const missed = await schedule(missedAt.getUTCHours(), missedAt.getUTCMinutes(), { timingSince: new Date(Date.now() - 86_400_000) });
    const later = await schedule((missedAt.getUTCHours() + 12) % 24, 0);
    const storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-sched-"));
    const worker = await startWorker({
      DATABASE_URL: meta.url,
      REDIS_URL: redisServer.url,
      CAPY_REDIS_PREFIX: prefix,
      STORAGE_DIR: storageDir,
      CAPY_ENCRYPTION_KEY: encryptionKey,
      // Reconcile every 300 ms, so the test sees the repair promptly.
      SCHEDULE_RECONCILE_INTERVAL_MS: "300",
    });
    try {
      const job = await waitFor(async () => (await jobsOf(missed.id))[0], { timeoutMs: 20_000, what: "the catch-up job" });
      expect(job.dueAt).toEqual(missedAt);
      expect(await jobsOf(later.id)).toHaveLength(0);
      const keys = async () => (await scheduleQueue.getJobSchedulers(0, -1, true)).map((s) => s.key).sort();
      const expected = [schedulerId(missed.id), schedulerId(later.id)].sort();
      await waitFor(async () => JSON.stringify(await keys()) === JSON.stringify(expected), { timeoutMs: 20_000, what: "schedulers written" });

      await redisServer.flush();
      await waitFor(async () => JSON.stringify(await keys()) === JSON.stringify(expected), { timeoutMs: 20_000, what: "schedulers restored after the flush" });
      const restored = await scheduleQueue.getJobSchedulers(0, -1, true);
      for (const s of [missed, later]) expect(restored.find((x) => x.key === schedulerId(s.id))?.next).toBe(nextRunAt(s)!.getTime());
      // Still one job for the missed due time: the flush lost nothing and duplicated nothing.
      expect(await jobsOf(missed.id)).toHaveLength(1);
    } finally {
      await worker.stop();
      await rm(storageDir, { recursive: true, force: true });
    }
  });
});

// The retention sweep against a real metadata database and real filesystem storage (the stack's
// temp directory), and, at the end, through a real worker process completing a scheduled backup.
// Backups are aged by setting created_at; every artifact is a real stored object.
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { createDb, type Db, findRetentionCandidates, newId } from "@capy/db";
import { deleteExpiredBackup, enqueueJob, insertJobRow } from "@capy/jobs";
import { backupArtifactKey, FilesystemStorage } from "@capy/storage";
import { createEmptyDatabase, type TestDatabase, waitFor } from "@capy/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkerEnv } from "../env.js";
import { createHarness, type Harness, waitForJob } from "../test-helpers.js";
import { sweepRetention } from "./retention.js";

const DAY = 86_400_000;

let harness: Harness;
let source: TestDatabase;
let storage: FilesystemStorage;
let projects = 0;

const log = pino({ level: "silent" });

beforeAll(async () => {
  [harness, source] = await Promise.all([createHarness(), createEmptyDatabase()]);
  storage = new FilesystemStorage(harness.stack.storageDir);
});

afterAll(async () => {
  await harness?.close();
  await source?.drop();
});

interface Project {
  projectId: string;
  organizationId: string;
  scheduleId: string;
}

/** A fresh project with a daily schedule keeping `retentionDays` days. */
async function newProject(retentionDays = 7): Promise<Project> {
  const { db } = harness.stack;
  const tenant = await harness.stack.createTenant("acme", `retention-${++projects}`, source.url);
  const schedule = await db.scheduledBackup.create({
    data: { id: newId("sch"), organizationId: tenant.organization_id, projectId: tenant.project_id, cronHour: 3, cronMinute: 0, isActive: true, retentionDays },
  });
  return { projectId: tenant.project_id, organizationId: tenant.organization_id, scheduleId: schedule.id };
}

interface BackupSpec {
  ageDays: number;
  /** false: on demand (schedule_id null). */
  scheduled?: boolean;
  verification?: "pending" | "verified" | "failed";
  /** State of the job that produced it. */
  jobState?: "pending" | "running" | "completed" | "failed";
}

/** A backup row aged `ageDays`, its producing job, and its artifact really stored. */
async function addBackup(project: Project, spec: BackupSpec, now: Date) {
  const { db } = harness.stack;
  const scheduled = spec.scheduled ?? true;
  const job = await insertJobRow(db, {
    type: "backup",
    organizationId: project.organizationId,
    projectId: project.projectId,
    clusterId: (await db.project.findUniqueOrThrow({ where: { id: project.projectId } })).clusterId,
    databaseName: source.name,
    scheduleId: scheduled ? project.scheduleId : null,
    dueAt: scheduled ? new Date(now.getTime() - spec.ageDays * DAY + Math.floor(Math.random() * 1_000_000)) : null,
  });
  await db.job.update({ where: { id: job.id }, data: { state: spec.jobState ?? "completed" } });
  const id = newId("bkp");
  const key = backupArtifactKey(project.projectId, id);
  const stored = await storage.put(key, Readable.from([Buffer.from(`dump of ${id}`)]));
  const verification = spec.verification ?? "verified";
  return db.backup.create({
    data: {
      id,
      organizationId: project.organizationId,
      projectId: project.projectId,
      jobId: job.id,
      scheduleId: scheduled ? project.scheduleId : null,
      databaseName: source.name,
      backupKey: key,
      sizeBytes: BigInt(stored.sizeBytes),
      sha256: stored.sha256,
      state: "completed",
      verificationState: verification,
      verifiedAt: verification === "verified" ? new Date(now.getTime() - spec.ageDays * DAY) : null,
      createdAt: new Date(now.getTime() - spec.ageDays * DAY),
    },
  });
}

/** A verify job for the backup in `state`. */
async function addVerifyJob(project: Project, backupId: string, state: "pending" | "running") {
  const { db } = harness.stack;
  const job = await insertJobRow(db, {
    type: "verify",
    organizationId: project.organizationId,
    projectId: project.projectId,
    clusterId: (await db.project.findUniqueOrThrow({ where: { id: project.projectId } })).clusterId,
    databaseName: source.name,
    backupId,
  });
  return db.job.update({ where: { id: job.id }, data: { state } });
}

const artifactExists = (key: string) =>
  stat(path.join(harness.stack.storageDir, key)).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );

async function remainingIds(projectId: string): Promise<string[]> {
  const rows = await harness.stack.db.backup.findMany({ where: { projectId }, select: { id: true } });
  return rows.map((row) => row.id).sort();
}

describe("sweepRetention", () => {
  it("deletes expired scheduled backups with their artifacts; keeps the newest good one, busy ones, on-demand ones and young ones", async () => {
    const { db } = harness.stack;
    const p = await newProject(7);
    const now = new Date();
    const expiredVerified = await addBackup(p, { ageDays: 30 }, now);
    const expiredFailed = await addBackup(p, { ageDays: 20, verification: "failed", jobState: "failed" }, now);
    // Expired, but the newest good backup of the project: kept.
    const newestGood = await addBackup(p, { ageDays: 10 }, now);
    // Newer than the newest good one, expired, failed verification: deleted.
    const newerFailed = await addBackup(p, { ageDays: 9, verification: "failed", jobState: "failed" }, now);
    // Still being made or verified: kept whatever their age.
    const pendingVerification = await addBackup(p, { ageDays: 15, verification: "pending", jobState: "running" }, now);
    const runningVerify = await addBackup(p, { ageDays: 12 }, now);
    const runningVerifyJob = await addVerifyJob(p, runningVerify.id, "running");
    const pendingVerify = await addBackup(p, { ageDays: 13 }, now);
    const pendingVerifyJob = await addVerifyJob(p, pendingVerify.id, "pending");
    const jobUnfinished = await addBackup(p, { ageDays: 14, verification: "failed", jobState: "pending" }, now);
    // On demand: kept until deleted, however old.
    const onDemand = await addBackup(p, { ageDays: 60, scheduled: false }, now);
    // Younger than retention_days.
    const young = await addBackup(p, { ageDays: 2, verification: "failed", jobState: "failed" }, now);
    // Another project's expired backups are not this project's sweep's business.
    const other = await newProject(1);
    const othersGood = await addBackup(other, { ageDays: 3 }, now);
    const othersExpired = await addBackup(other, { ageDays: 5 }, now);

    const first = await sweepRetention({ db, storage, log, projectId: p.projectId, now, actorId: "test-sweeper" });
    const deleted = [expiredVerified, expiredFailed, newerFailed];
    expect(first.deleted.map((row) => row.id).sort()).toEqual(deleted.map((b) => b.id).sort());
    expect(first.artifactErrors).toEqual([]);
    for (const backup of deleted) expect(await artifactExists(backup.backupKey), backup.id).toBe(false);
    const kept = [newestGood, pendingVerification, runningVerify, pendingVerify, jobUnfinished, onDemand, young];
    expect(await remainingIds(p.projectId)).toEqual(kept.map((b) => b.id).sort());
    for (const backup of kept) expect(await artifactExists(backup.backupKey), backup.id).toBe(true);
    expect(await remainingIds(other.projectId)).toEqual([othersGood.id, othersExpired.id].sort());
    // One audit event per deletion, by the system.
    const events = await db.auditEvent.findMany({ where: { projectId: p.projectId, action: "backup.deleted" } });
    expect(events.map((e) => e.targetId).sort()).toEqual(deleted.map((b) => b.id).sort());
    expect(events.every((e) => e.actorType === "system" && e.actorId === "test-sweeper" && e.organizationId === p.organizationId)).toBe(true);

    // Idempotent: a second sweep deletes nothing.
    expect(await sweepRetention({ db, storage, log, projectId: p.projectId, now })).toEqual({ deleted: [], skipped: 0, artifactErrors: [] });

    // A newer good backup takes over: the old newest good one goes. Once the verify jobs have
    // finished, their backups go too; the one whose job is unfinished stays.
    const fresh = await addBackup(p, { ageDays: 1 }, now);
    await db.job.updateMany({ where: { id: { in: [runningVerifyJob.id, pendingVerifyJob.id] } }, data: { state: "completed" } });
    const second = await sweepRetention({ db, storage, log, now });
    expect(second.deleted.map((row) => row.id).sort()).toEqual([newestGood.id, runningVerify.id, pendingVerify.id, othersExpired.id].sort());
    expect(await remainingIds(p.projectId)).toEqual([pendingVerification, jobUnfinished, onDemand, young, fresh].map((b) => b.id).sort());
    expect(await remainingIds(other.projectId)).toEqual([othersGood.id]);
    expect(await artifactExists(newestGood.backupKey)).toBe(false);
    expect(await artifactExists(othersGood.backupKey)).toBe(true);
  });

  it("re-checks each candidate when deleting it: one that became busy is skipped", async () => {
    const { db } = harness.stack;
    const p = await newProject(7);
    const now = new Date();
    const old = await addBackup(p, { ageDays: 30 }, now);
    await addBackup(p, { ageDays: 1 }, now);
    // A stopped sweep (worker shutting down) deletes nothing more.
    expect((await sweepRetention({ db, storage, log, projectId: p.projectId, now, signal: AbortSignal.abort() })).deleted).toEqual([]);
    const candidates = await findRetentionCandidates(db, { now, projectId: p.projectId, limit: 10 });
    expect(candidates.map((c) => c.id)).toEqual([old.id]);
    // A verify job for it is requested between the selection and the delete.
    await addVerifyJob(p, old.id, "pending");
    expect(await deleteExpiredBackup(db, candidates[0]!, now)).toBeNull();
    expect(await artifactExists(old.backupKey)).toBe(true);
    // A longer retention set in between also protects it.
    await db.job.updateMany({ where: { backupId: old.id }, data: { state: "completed" } });
    await db.scheduledBackup.update({ where: { id: p.scheduleId }, data: { retentionDays: 60 } });
    expect(await deleteExpiredBackup(db, candidates[0]!, now)).toBeNull();
    await db.scheduledBackup.update({ where: { id: p.scheduleId }, data: { retentionDays: 7 } });
    expect((await deleteExpiredBackup(db, candidates[0]!, now))?.id).toBe(old.id);
  });

  it("logs (key and error, nothing else) an artifact it could not remove, after deleting the row", async () => {
    const { db } = harness.stack;
    const p = await newProject(7);
    const now = new Date();
    const old = await addBackup(p, { ageDays: 30 }, now);
    await addBackup(p, { ageDays: 1 }, now);
    const lines: Array<Record<string, unknown>> = [];
    const capturing = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const failing = Object.assign(Object.create(storage) as FilesystemStorage, { delete: () => Promise.reject(new Error("store unreachable")) });
    const result = await sweepRetention({ db, storage: failing, log: capturing, projectId: p.projectId, now });
    expect(result.deleted.map((row) => row.id)).toEqual([old.id]);
    expect(result.artifactErrors).toEqual([old.id]);
    expect(await db.backup.findUnique({ where: { id: old.id } })).toBeNull();
    expect(lines).toEqual([expect.objectContaining({ level: 50, err: "store unreachable", backup_id: old.id, backup_key: old.backupKey })]);
  });

  it("concurrent sweeps (separate connection pools, like separate workers) delete each backup once", async () => {
    const p = await newProject(7);
    const now = new Date();
    const expired = [];
    for (let i = 0; i < 40; i++) expired.push(await addBackup(p, { ageDays: 8 + i, verification: i % 3 === 0 ? "failed" : "verified" }, now));
    const newestGood = await addBackup(p, { ageDays: 7.5 }, now);
    const pools: Db[] = [createDb(harness.stack.metadata.url, { maxConnections: 2 }), createDb(harness.stack.metadata.url, { maxConnections: 2 })];
    try {
      const results = await Promise.all([
        sweepRetention({ db: pools[0]!, storage, log, projectId: p.projectId, now }),
        sweepRetention({ db: pools[1]!, storage, log, now }),
        sweepRetention({ db: pools[0]!, storage, log, now }),
      ]);
      // (Sweeps of every project may meet earlier tests' projects; count this project's deletions.)
      const deletedIds = results.flatMap((r) => r.deleted.filter((row) => row.project_id === p.projectId).map((row) => row.id));
      // Each exactly once across the sweeps, none twice.
      expect(deletedIds.length).toBe(expired.length);
      expect([...deletedIds].sort()).toEqual(expired.map((b) => b.id).sort());
      expect(results.flatMap((r) => r.artifactErrors)).toEqual([]);
      expect(await remainingIds(p.projectId)).toEqual([newestGood.id]);
      for (const backup of expired) expect(await artifactExists(backup.backupKey)).toBe(false);
      expect(await artifactExists(newestGood.backupKey)).toBe(true);
      const events = await harness.stack.db.auditEvent.count({ where: { projectId: p.projectId, action: "backup.deleted" } });
      expect(events).toBe(expired.length);
      expect((await sweepRetention({ db: pools[1]!, storage, log, now })).deleted).toEqual([]);
    } finally {
      await Promise.all(pools.map((pool) => pool.$disconnect()));
    }
  });
});

describe("RETENTION_SWEEP_INTERVAL_MS", () => {
  it("defaults to an hour and rejects nonsense", () => {
    expect(loadWorkerEnv({}).RETENTION_SWEEP_INTERVAL_MS).toBe(3_600_000);
    expect(loadWorkerEnv({ RETENTION_SWEEP_INTERVAL_MS: "60000" }).RETENTION_SWEEP_INTERVAL_MS).toBe(60_000);
    expect(() => loadWorkerEnv({ RETENTION_SWEEP_INTERVAL_MS: "0" })).toThrow(/RETENTION_SWEEP_INTERVAL_MS: /);
  });
});

describe("in a worker process", () => {
  it("sweeps the project right after one of its scheduled backups completes", async () => {
    const { stack } = harness;
    const p = await newProject(7);
    // The newest good backup so far, expired: the start-up sweep must keep it.
    const expired = await addBackup(p, { ageDays: 20 }, new Date());
    // An hour between periodic sweeps: only the start-up one and the one after the backup run.
    const worker = await stack.startWorker({ RETENTION_SWEEP_INTERVAL_MS: "3600000" });
    await waitFor(() => /"msg":"retention sweep finished"/.test(worker.logs()), { what: "the start-up retention sweep" });
    expect(await remainingIds(p.projectId)).toEqual([expired.id]);

    const project = await stack.db.project.findUniqueOrThrow({ where: { id: p.projectId } });
    const job = await insertJobRow(stack.db, {
      type: "backup",
      organizationId: p.organizationId,
      projectId: p.projectId,
      clusterId: project.clusterId,
      databaseName: project.databaseName,
      scheduleId: p.scheduleId,
      dueAt: new Date(),
    });
    await enqueueJob(harness.queue, job);
    await waitForJob(stack, job.id, ["completed", "failed"]);
    expect(await stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: "completed" });
    const fresh = await stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(fresh).toMatchObject({ scheduleId: p.scheduleId, verificationState: "verified" });

    // The sweep logs once it has removed rows and artifacts (the row goes first, then the file).
    const swept = new RegExp(`"project_id":"${p.projectId}","deleted_count":1,"deleted":\\["${expired.id}"\\]`);
    await waitFor(() => swept.test(worker.logs()), { what: "the project's retention sweep to finish" });
    expect(await remainingIds(p.projectId)).toEqual([fresh.id]);
    expect(await artifactExists(expired.backupKey)).toBe(false);
    expect(await artifactExists(fresh.backupKey)).toBe(true);
  });
});

// The job reconciler, against real Postgres and a private redis-server (these tests flush and
// restart Redis; the shared server is never touched): first its decisions, one pass at a time,
// then whole processes — a Redis flush, a Redis restart and a dead worker's job, each ending in
// a backup that a real worker completes.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { BACKUP_QUEUE } from "@capy/contracts";
import { type Job, newId } from "@capy/db";
import { enqueueJob, LOST_BEFORE_VERIFIED } from "@capy/jobs";
import { type BackupQueue, createBackupQueue, createProducerConnection, createWorkerConnection, waitForRedisReady } from "@capy/queue";
import { attemptArtifactKey, FilesystemStorage } from "@capy/storage";
import { createEmptyDatabase, createTestStack, type PrivateRedis, startPrivateRedis, type TestDatabase, type TestStack, waitFor } from "@capy/testing";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../logger.js";
import { insertJob, waitForJob } from "../test-helpers.js";
import { type JobReconcilerDeps, reconcileJobs, WORKER_LOST_ERROR } from "./job-reconciler.js";

let redisServer: PrivateRedis;
let stack: TestStack;
let source: TestDatabase;
let redis: Redis;
/** For the test's own commands (flush, fake locks): queues them while (re)connecting. */
let admin: Redis;
let queue: BackupQueue;
let projectId: string;
let tenant: Awaited<ReturnType<TestStack["createTenant"]>>;

const HEARTBEAT_TIMEOUT_MS = 3_000;
const log = createLogger("silent", {});

beforeAll(async () => {
  [redisServer, source] = await Promise.all([startPrivateRedis(), createEmptyDatabase()]);
  stack = await createTestStack({ REDIS_URL: redisServer.url });
  tenant = await stack.createTenant("acme", "shop", source.url);
  projectId = tenant.project_id;
  redis = createProducerConnection({ url: redisServer.url, prefix: stack.redis.prefix });
  queue = createBackupQueue(redis, stack.redis.prefix);
  admin = new Redis(redisServer.url);
  expect(await waitForRedisReady(redis, 10_000)).toBe(true);
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  admin?.disconnect();
  await stack?.stop();
  await source?.drop();
  await redisServer?.stop();
});

const deps = (): JobReconcilerDeps => ({ db: stack.db, queue, redis, heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, log });
const row = (id: string) => stack.db.job.findUniqueOrThrow({ where: { id } });

/** A job row as a worker that then died leaves it: running, claimed, heartbeat long stale. */
async function lostRunningJob(data: Partial<Pick<Job, "attempts" | "cancelRequestedAt">> = {}): Promise<Job> {
  const job = await insertJob(stack, projectId);
  const stale = new Date(Date.now() - 3_600_000);
  return stack.db.job.update({
    where: { id: job.id },
    data: {
      state: "running",
      phase: "dumping",
      attempts: 1,
      fencingToken: 1,
      claimedBy: "dead-worker",
      claimedAt: stale,
      startedAt: stale,
      heartbeatAt: stale,
      ...data,
    },
  });
}

/** A pending row last touched a minute ago (past the reconciler's grace period). */
async function oldPendingJob(): Promise<Job> {
  const job = await insertJob(stack, projectId);
  await stack.db.$executeRaw`UPDATE jobs SET updated_at = now() - interval '1 minute' WHERE id = ${job.id}`;
  return job;
}

async function clearJobs(): Promise<void> {
  await stack.db.job.deleteMany({});
  await admin.flushall();
}

describe("one reconciliation pass", () => {
  beforeAll(clearJobs);

  it("resets a running job whose worker vanished to pending (worker_lost), fenced, and enqueues it", async () => {
    const job = await lostRunningJob();
    // Many processes at once: one of them wins the row.
    const results = await Promise.all(Array.from({ length: 5 }, () => reconcileJobs(deps())));
    expect(results.reduce((sum, result) => sum + result.recovered, 0)).toBe(1);
    const after = await row(job.id);
    expect(after).toMatchObject({
      state: "pending",
      phase: "queued",
      retryClassification: "worker_lost",
      error: WORKER_LOST_ERROR,
      fencingToken: 2,
      attempts: 1,
      completedAt: null,
    });
    expect(await queue.getJobState(job.id)).toBe("waiting");
    // The vanished attempt's fenced writes match nothing now.
    const stale = await stack.db.job.updateMany({ where: { id: job.id, fencingToken: 1, state: "running" }, data: { state: "completed" } });
    expect(stale.count).toBe(0);
  });

  it("fails it (worker_lost) when its attempts are used up, and cancels it when a cancel was requested", async () => {
    const exhausted = await lostRunningJob({ attempts: 3 });
    const canceled = await lostRunningJob({ cancelRequestedAt: new Date() });
    const result = await reconcileJobs(deps());
    expect(result).toMatchObject({ failed: 1, canceled: 1 });
    const failedRow = await row(exhausted.id);
    expect(failedRow).toMatchObject({ state: "failed", phase: "done", retryClassification: "worker_lost", fencingToken: 2 });
    expect(failedRow.completedAt).toBeInstanceOf(Date);
    expect(await row(canceled.id)).toMatchObject({ state: "canceled", retryClassification: "canceled", error: "canceled by request", fencingToken: 2 });
    expect(await queue.getJob(exhausted.id)).toBeUndefined();
    expect(await queue.getJob(canceled.id)).toBeUndefined();
  });

  it("settles what such jobs recorded: a failed job's backup fails verification, a canceled job's backup and artifact are removed", async () => {
    const storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-reconciler-"));
    const storage = new FilesystemStorage(storageDir);
    const exhausted = await lostRunningJob({ attempts: 3 });
    const canceled = await lostRunningJob({ cancelRequestedAt: new Date() });
    const recorded = async (job: Job) => {
      const key = attemptArtifactKey(job.projectId, job.id, 1, newId("bkp"));
      await storage.put(key, Readable.from([Buffer.from("dump bytes")]));
      return stack.db.backup.create({
        data: {
          id: newId("bkp"),
          organizationId: job.organizationId,
          projectId: job.projectId,
          jobId: job.id,
          databaseName: source.name,
          backupKey: key,
          sizeBytes: 10n,
          sha256: "0".repeat(64),
          state: "completed",
          verificationState: "pending",
        },
      });
    };
    const [failedBackup, canceledBackup] = [await recorded(exhausted), await recorded(canceled)];
    expect(await reconcileJobs({ ...deps(), storage })).toMatchObject({ failed: 1, canceled: 1 });
    expect(await stack.db.backup.findUniqueOrThrow({ where: { id: failedBackup.id } })).toMatchObject({
      verificationState: "failed",
      verificationError: LOST_BEFORE_VERIFIED,
    });
    expect(await stack.db.backup.findUnique({ where: { id: canceledBackup.id } })).toBeNull();
    const exists = (key: string) =>
      storage.size(key).then(
        () => true,
        () => false,
      );
    expect(await exists(canceledBackup.backupKey)).toBe(false);
    expect(await exists(failedBackup.backupKey)).toBe(true);
    await rm(storageDir, { recursive: true, force: true });
  });

  it("leaves running jobs alone while a worker holds them or their heartbeat is fresh", async () => {
    const held = await lostRunningJob();
    await admin.set(`${queue.toKey(held.id)}:lock`, "some-worker-token", "PX", 60_000);
    const fresh = await lostRunningJob();
    await stack.db.job.update({ where: { id: fresh.id }, data: { heartbeatAt: new Date() } });
    await reconcileJobs(deps());
    expect(await row(held.id)).toMatchObject({ state: "running", fencingToken: 1 });
    expect(await row(fresh.id)).toMatchObject({ state: "running", fencingToken: 1 });
    await stack.db.job.deleteMany({ where: { id: { in: [held.id, fresh.id] } } });
  });

  it("re-enqueues pending jobs missing from Redis or finished there, but not fresh ones", async () => {
    await clearJobs();
    const missing = await oldPendingJob();
    const fresh = await insertJob(stack, projectId);
    // A pending row whose BullMQ job completed (e.g. a worker that skipped it): run it through a no-op worker.
    const finished = await oldPendingJob();
    await queue.add("backup", { jobId: finished.id }, { jobId: finished.id });
    const connection = createWorkerConnection({ url: redisServer.url, prefix: stack.redis.prefix });
    const noop = new Worker(BACKUP_QUEUE, async () => {}, { connection, prefix: stack.redis.prefix });
    await waitFor(async () => (await queue.getJobState(finished.id)) === "completed", { what: "the no-op worker" });
    await noop.close();
    connection.disconnect();

    const result = await reconcileJobs(deps());
    expect(result.requeued).toBe(2);
    expect(await queue.getJobState(missing.id)).toBe("waiting");
    expect(await queue.getJobState(finished.id)).toBe("waiting");
    expect(await queue.getJob(fresh.id)).toBeUndefined();
    // A second pass finds nothing to do.
    expect((await reconcileJobs(deps())).requeued).toBe(0);
  });

  it("re-enqueues a pending job whose BullMQ hash is in no list (orphaned), once, however many reconcile", async () => {
    await clearJobs();
    const orphan = await oldPendingJob();
    await enqueueJob(queue, orphan);
    // What the chaos run left (seed 1828750082): the hash, without finishedOn or lock, in no list.
    expect(await admin.lrem(queue.toKey("wait"), 0, orphan.id)).toBe(1);
    expect(await queue.getJobState(orphan.id)).toBe("unknown");
    const results = await Promise.all(Array.from({ length: 4 }, () => reconcileJobs(deps())));
    expect(results.reduce((sum, r) => sum + r.requeued, 0)).toBe(1);
    expect(await queue.getJobState(orphan.id)).toBe("waiting");
    expect(await admin.llen(queue.toKey("wait"))).toBe(1);
  });

  it("re-enqueues a pending job left in the active list without a lock, once that lasts longer than activeUnlockedMs", async () => {
    await clearJobs();
    const job = await oldPendingJob();
    await enqueueJob(queue, job);
    // A worker took it (BullMQ moved it to active) and vanished with nothing to run BullMQ's stalled check.
    expect(await admin.lmove(queue.toKey("wait"), queue.toKey("active"), "RIGHT", "LEFT")).toBe(job.id);
    expect(await queue.getJobState(job.id)).toBe("active");
    const memory = new Map<string, number>();
    const activeUnlockedMs = 300;
    // The first pass only notes it: BullMQ's stalled check normally returns such a job itself.
    expect((await reconcileJobs({ ...deps(), memory, activeUnlockedMs })).requeued).toBe(0);
    expect(await queue.getJobState(job.id)).toBe("active");
    // A lock (a live worker) keeps it where it is, however long.
    await admin.set(`${queue.toKey(job.id)}:lock`, "live-worker", "PX", 60_000);
    await new Promise((resolve) => setTimeout(resolve, activeUnlockedMs));
    expect((await reconcileJobs({ ...deps(), memory, activeUnlockedMs })).requeued).toBe(0);
    await admin.del(`${queue.toKey(job.id)}:lock`);
    await waitFor(async () => (await reconcileJobs({ ...deps(), memory, activeUnlockedMs })).requeued === 1, {
      timeoutMs: 10_000,
      what: "a pass to take the job as lost",
    });
    expect(await queue.getJobState(job.id)).toBe("waiting");
    expect(await admin.llen(queue.toKey("active"))).toBe(0);
  });

  it("re-enqueues thousands of lost pending jobs in one pass", async () => {
    await clearJobs();
    const project = await stack.db.project.findUniqueOrThrow({ where: { id: projectId } });
    const count = 3_000;
    const old = new Date(Date.now() - 60_000);
    await stack.db.job.createMany({
      data: Array.from({ length: count }, () => ({
        id: newId("job"),
        type: "backup",
        state: "pending",
        clusterId: project.clusterId,
        lockedResource: "database:bulk",
        organizationId: project.organizationId,
        projectId,
        createdAt: old,
        updatedAt: old,
      })),
    });
    const startedAt = performance.now();
    const result = await reconcileJobs(deps());
    const elapsedMs = performance.now() - startedAt;
    expect(result.requeued).toBe(count);
    expect(await queue.getWaitingCount()).toBe(count);
    const again = performance.now();
    expect((await reconcileJobs(deps())).requeued).toBe(0);
    const idleMs = performance.now() - again;
    console.log(
      `reconciler: ${count} lost pending jobs re-enqueued in ${Math.round(elapsedMs)} ms; a pass finding all ${count} queued took ${Math.round(idleMs)} ms`,
    );
    await clearJobs();
  });
});

describe("with real API and worker processes", () => {
  const workerEnv = { JOB_RECONCILE_INTERVAL_MS: "500", JOB_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS), WORKER_HEARTBEAT_INTERVAL_MS: "500" };
  const createBackup = async () => {
    const response = await fetch(`${stack.api!.baseUrl}/v1/projects/${projectId}/backups`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.api_key}` },
    });
    expect(response.status).toBe(201);
    return ((await response.json()) as { job: { id: string } }).job.id;
  };

  beforeAll(async () => {
    await clearJobs();
    await stack.startApi();
  });

  it("after a Redis flush, the reconciler re-enqueues the pending job at worker start and the worker completes it", async () => {
    const jobId = await createBackup();
    // The API answers before Redis has the job (apps/api/src/services/enqueues.ts).
    await waitFor(async () => (await queue.getJobState(jobId)) === "waiting", { what: "the job waiting in the queue" });
    await admin.flushall();
    expect(await queue.getJob(jobId)).toBeUndefined();
    // Past the grace period for fresh rows, so the pass at start takes it (the next one is 10 min away).
    await stack.db.$executeRaw`UPDATE jobs SET updated_at = now() - interval '1 minute' WHERE id = ${jobId}`;

    const worker = await stack.startWorker({ ...workerEnv, JOB_RECONCILE_INTERVAL_MS: "600000" });
    const done = await waitForJob(stack, jobId, ["completed", "failed"], 90_000);
    expect(done).toMatchObject({ state: "completed", attempts: 1 });
    expect(worker.logs()).toMatch(new RegExp(`"job_id":"${jobId}".*"pending job was not in the queue; enqueued it again"`));

    // The next tests need frequent passes.
    await worker.stop();
    await stack.startWorker(workerEnv);
  });

  it("after a Redis restart, a new backup completes without restarting the API or the worker", async () => {
    const [api, worker] = [stack.api!, stack.workers.at(-1)!];
    await redisServer.restart();
    // The API reconnects by itself (readiness pings Redis).
    await waitFor(async () => (await fetch(`${api.baseUrl}/readyz`)).ok, { timeoutMs: 30_000, what: "the API to reconnect" });
    const jobId = await createBackup();
    expect(await waitForJob(stack, jobId, ["completed", "failed"], 90_000)).toMatchObject({ state: "completed" });
    expect(api.child.exitCode).toBeNull();
    expect(worker.child.exitCode).toBeNull();
    // Enqueued by the API itself, not rescued by the reconciler.
    expect(api.logs()).not.toContain("enqueue failed");
    expect(worker.logs()).not.toMatch(new RegExp(`"job_id":"${jobId}".*"pending job was not in the queue`));
  });

  it("a pending job whose BullMQ hash is in no list is re-enqueued by a periodic pass and completed", async () => {
    const job = await oldPendingJob();
    // The hash a worker's move left behind when it raced a Redis restart: no list holds it, no
    // lock, not finished, so no worker will ever take it (written by hand: an add would let the
    // running worker take it at once).
    await admin.hset(queue.toKey(job.id), {
      name: job.type,
      data: JSON.stringify({ jobId: job.id }),
      opts: JSON.stringify({ attempts: 3 }),
      timestamp: String(Date.now() - 60_000),
      processedOn: String(Date.now() - 50_000),
      ats: "2",
      atm: "0",
    });
    const done = await waitForJob(stack, job.id, ["completed", "failed"], 90_000);
    expect(done).toMatchObject({ state: "completed", attempts: 1 });
    expect(stack.workers.at(-1)!.logs()).toMatch(
      new RegExp(`"job_id":"${job.id}".*"queue_state":"orphaned".*"pending job was not in the queue; enqueued it again"`),
    );
  });

  it("a job left running by a dead worker (stale heartbeat, no queue entry) is recovered by a periodic pass and completed", async () => {
    const job = await lostRunningJob();
    const done = await waitForJob(stack, job.id, ["completed", "failed"], 90_000);
    // Reset (token 2), then claimed again (token 3) as the second attempt.
    expect(done).toMatchObject({ state: "completed", attempts: 2, fencingToken: 3 });
    expect(stack.workers.at(-1)!.logs()).toMatch(new RegExp(`"job_id":"${job.id}".*"outcome":"pending".*"running job lost its worker"`));
  });
});

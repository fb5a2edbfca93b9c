// The job catalogue as the worker uses it, for every kind: the BullMQ worker dispatches each job to
// its kind's handler (real Redis and Postgres), and runClaimed runs the kind's storage hooks: after
// a requested cancel and after a lost last attempt (the row hooks are tested in @capy/jobs).

import { JOB_TYPES, type JobType } from "@capy/contracts";
import { createDb, type Db } from "@capy/db";
import { claimJob, enqueueJob, insertJobRow, JOB_KINDS, type NewJob } from "@capy/jobs";
import { type BackupQueue, createBackupQueue, createProducerConnection, createWorkerConnection } from "@capy/queue";
import { createMetadataDatabase, createTestRedis, type TestDatabase, type TestRedis, waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createCatalogue, type WorkerCatalogue } from "./catalogue.js";
import { runClaimed } from "./handlers/claimed.js";
import type { JobRuntime } from "./handlers/index.js";
import { createLogger } from "./logger.js";
import { createJobWorker } from "./worker.js";

let metadata: TestDatabase;
let db: Db;
let redis: TestRedis;
const log = createLogger("silent", {});

beforeAll(async () => {
  metadata = await createMetadataDatabase();
  db = createDb(metadata.url, { maxConnections: 4 });
  redis = createTestRedis();
});

afterAll(async () => {
  await db?.$disconnect();
  await metadata?.drop();
  await redis?.cleanup();
});

/** A payload each kind accepts: a new kind must add one (the record is exhaustive). */
const PAYLOADS: Record<JobType, Partial<NewJob>> = {
  backup: { label: "nightly" },
  verify: { backupId: "bkp_t" },
  restore: { backupId: "bkp_t", previewDatabaseId: "pvw_t", payload: { restoreOptions: { target_kind: "new_preview", tables: null, safety_job_id: null } } },
};
const newJob = (type: JobType) =>
  insertJobRow(db, { type, organizationId: "org_t", projectId: "prj_t", clusterId: "cls_t", databaseName: "app", ...PAYLOADS[type] });

/** Runtimes whose every handler and hook is a spy. */
function spiedCatalogue(): { catalogue: WorkerCatalogue; runtimes: Record<JobType, { [K in keyof JobRuntime]: ReturnType<typeof vi.fn> }> } {
  const runtimes = Object.fromEntries(
    JOB_TYPES.map((type) => [type, { handler: vi.fn(async () => {}), afterCancel: vi.fn(async () => {}), afterWorkerLost: vi.fn(async () => {}) }]),
  ) as Record<JobType, { handler: ReturnType<typeof vi.fn>; afterCancel: ReturnType<typeof vi.fn>; afterWorkerLost: ReturnType<typeof vi.fn> }>;
  const catalogue = Object.fromEntries(JOB_TYPES.map((type) => [type, { ...JOB_KINDS[type], ...runtimes[type] }])) as unknown as WorkerCatalogue;
  return { catalogue, runtimes };
}

describe("the worker's job catalogue", () => {
  it("has an entry with a handler and hooks for every job type", () => {
    const catalogue = createCatalogue({} as Parameters<typeof createCatalogue>[0]);
    expect(Object.keys(catalogue).sort()).toEqual([...JOB_TYPES].sort());
    for (const type of JOB_TYPES) {
      for (const field of ["handler", "afterCancel", "afterWorkerLost", "onCancel", "onWorkerLost", "lockedResource"] as const)
        expect(typeof catalogue[type][field], `${type}.${field}`).toBe("function");
    }
  });

  it("dispatches every kind's jobs to that kind's handler", async () => {
    const { catalogue, runtimes } = spiedCatalogue();
    const producer = createProducerConnection({ url: redis.url, prefix: redis.prefix });
    const queue: BackupQueue = createBackupQueue(producer, redis.prefix);
    const worker = createJobWorker({
      connection: createWorkerConnection({ url: redis.url, prefix: redis.prefix }),
      prefix: redis.prefix,
      concurrency: 2,
      workerId: "w-cat",
      catalogue,
      db,
      log,
    });
    try {
      const jobs = await Promise.all(JOB_TYPES.map((type) => newJob(type)));
      for (const job of jobs) await enqueueJob(queue, job);
      await waitFor(() => JOB_TYPES.every((type) => runtimes[type].handler.mock.calls.length > 0), { timeoutMs: 20_000, what: "every handler to run" });
      for (const [index, type] of JOB_TYPES.entries()) {
        expect(
          runtimes[type].handler.mock.calls.map(([context]) => (context as { jobId: string }).jobId),
          type,
        ).toEqual([jobs[index]!.id]);
      }
    } finally {
      await worker.close();
      await queue.close();
      producer.disconnect();
    }
  });

  it.each(JOB_TYPES)("runs %s's storage hooks after a requested cancel and after a lost last attempt", async (type) => {
    const { runtimes } = spiedCatalogue();
    const hooks = runtimes[type];
    const deps = { db, workerId: "w-hooks", heartbeatIntervalMs: 1_000 };
    const context = (jobId: string) => ({ jobId, log, signal: new AbortController().signal, finalAttempt: false });
    const work = vi.fn(async () => {});

    const canceled = await newJob(type);
    await db.job.update({ where: { id: canceled.id }, data: { cancelRequestedAt: new Date() } });
    await expect(runClaimed(deps, context(canceled.id), type, work, hooks as unknown as JobRuntime)).rejects.toThrow("canceled by request");
    expect(hooks.afterCancel.mock.calls.map(([job, keys]) => [(job as { id: string }).id, keys])).toEqual([[canceled.id, []]]);

    const lost = await newJob(type);
    for (let i = 0; i < JOB_KINDS[type].retry.maxAttempts; i++) await claimJob(db, lost.id, `w-${i}`);
    await expect(runClaimed(deps, context(lost.id), type, work, hooks as unknown as JobRuntime)).rejects.toThrow(/no attempts are left/);
    expect(hooks.afterWorkerLost.mock.calls.map(([job]) => (job as { id: string }).id)).toEqual([lost.id]);
    expect(work).not.toHaveBeenCalled();
    expect((await db.job.findUniqueOrThrow({ where: { id: lost.id } })).state).toBe("failed");
  });
});

// LeaseWaiters against real Redis and real BullMQ jobs (the test's own key prefix).

import { BACKUP_QUEUE } from "@capy/contracts";
import { createTestRedis, type TestRedis, waitFor } from "@capy/testing";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackupQueue, createBackupQueue } from "./backup-queue.js";
import { LeaseWaiters } from "./lease-waiters.js";

let testRedis: TestRedis;
let redis: Redis;
let queue: BackupQueue;
let waiters: LeaseWaiters;

beforeAll(() => {
  testRedis = createTestRedis();
  redis = new Redis(testRedis.url, { maxRetriesPerRequest: null });
  queue = createBackupQueue(redis, testRedis.prefix);
  waiters = new LeaseWaiters(redis, queue, testRedis.prefix);
});

afterAll(async () => {
  await queue.close();
  redis.disconnect();
  await testRedis.cleanup();
});

/** A job sleeping in the delayed set for an hour, as a job waiting for a lease does. */
async function delayedJob(id: string) {
  return queue.add("backup", { jobId: `job_${id}` }, { jobId: `job_${id}`, delay: 3_600_000 });
}

describe("LeaseWaiters", () => {
  it("wakes the longest waiter first, one per released lease, and skips jobs no longer delayed", async () => {
    const [first, second, finished] = await Promise.all([delayedJob("w1"), delayedJob("w2"), delayedJob("w3")]);
    await waiters.wait("database:c/a", finished.id!);
    await waiters.wait("database:c/a", first.id!);
    await waiters.wait("database:c/a", second.id!);
    await waiters.wait("database:c/a", first.id!); // a second wait keeps its place
    await finished.remove();

    expect(await waiters.wakeOne("database:c/a")).toBe(first.id);
    expect(await queue.getJobState(first.id!)).toBe("waiting");
    expect(await queue.getJobState(second.id!)).toBe("delayed");
    expect(await waiters.wakeOne("database:c/a")).toBe(second.id);
    expect(await waiters.wakeOne("database:c/a")).toBeNull();
  });

  it("forgets a job that got its leases, and keeps the place of one caught between its try and its sleep", async () => {
    const done = await delayedJob("w4");
    await waiters.wait("dump:c", done.id!);
    await waiters.stopWaiting(["database:c/b", "dump:c"], done.id!);
    expect(await waiters.wakeOne("dump:c")).toBeNull();
    expect(await queue.getJobState(done.id!)).toBe("delayed");

    // An active job (a worker holds it) cannot be promoted: it stays in line for the next wake-up.
    await queue.add("backup", { jobId: "job_w5" }, { jobId: "job_w5" });
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    const connection = new Redis(testRedis.url, { maxRetriesPerRequest: null });
    // Jobs the first test woke are waiting too: they finish at once; job_w5 is held.
    const worker = new Worker(BACKUP_QUEUE, async (job) => (job.id === "job_w5" ? holding : undefined), { connection, prefix: testRedis.prefix });
    try {
      await waitFor(async () => (await queue.getJobState("job_w5")) === "active", { what: "the job to be active" });
      await waiters.wait("dump:c", "job_w5");
      expect(await waiters.wakeOne("dump:c")).toBeNull();
      expect(await redis.zscore(`${testRedis.prefix}:lease-waiters:dump:c`, "job_w5")).not.toBeNull();
    } finally {
      release();
      await worker.close();
      connection.disconnect();
    }
  });
});

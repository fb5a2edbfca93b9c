// The attempt's Redis leases against a real Redis: all or nothing, renewed while held, a lease
// taken over by another holder stops the attempt, and everything goes back on release.

import { LeaseSemaphore } from "@capy/queue";
import { createTestRedis, type TestRedis, waitFor } from "@capy/testing";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LeaseLostError, ResourceBusyError } from "../failures/errors.js";
import { acquireLeases, dumpSlotResource } from "./leases.js";

const log = pino({ level: "silent" });
let testRedis: TestRedis;
let redis: Redis;
let semaphore: LeaseSemaphore;

beforeAll(() => {
  testRedis = createTestRedis();
  redis = new Redis(testRedis.url);
  semaphore = new LeaseSemaphore(redis, testRedis.prefix);
});

afterAll(async () => {
  redis.disconnect();
  await testRedis.cleanup();
});

const request = (jobId: string, resources: Array<{ resource: string; capacity: number }>, leaseMs = 10_000) => ({
  resources,
  workerId: "w",
  jobId,
  leaseMs,
  log,
});

describe("acquireLeases", () => {
  it("takes every lease or none, naming the busy one", async () => {
    const db = { resource: "database:c1/app", capacity: 1 };
    const slot = { resource: dumpSlotResource("c1"), capacity: 1 };
    const first = await acquireLeases(semaphore, request("job_1", [{ resource: "database:c1/other", capacity: 1 }, slot]));
    const busy = await acquireLeases(semaphore, request("job_2", [db, slot])).catch((error: unknown) => error);
    expect(busy).toBeInstanceOf(ResourceBusyError);
    expect((busy as ResourceBusyError).resource).toBe("dump:c1");
    // The database lock it had taken went back with the refusal.
    expect(await semaphore.holders(db.resource)).toEqual([]);
    await first.release(slot.resource);
    const second = await acquireLeases(semaphore, request("job_2", [db, slot]));
    await Promise.all([first.releaseAll(), second.releaseAll()]);
    expect(await semaphore.holders(db.resource)).toEqual([]);
    expect(await semaphore.holders(slot.resource)).toEqual([]);
  });

  it("keeps a lease alive past its length by renewing it", async () => {
    const held = await acquireLeases(semaphore, request("job_3", [{ resource: "database:c2/app", capacity: 1 }], 300));
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(await semaphore.acquire("database:c2/app", "intruder", 1, 10_000)).toBe(false);
    await held.releaseAll();
    expect(await semaphore.acquire("database:c2/app", "intruder", 1, 10_000)).toBe(true);
  });

  it("reports a lease lost to another holder after it expired", async () => {
    const resource = "database:c3/app";
    const held = await acquireLeases(semaphore, request("job_4", [{ resource, capacity: 1 }], 300));
    const lost: LeaseLostError[] = [];
    held.onLost((error) => lost.push(error));
    // What a pause past the lease looks like from Redis: our permit gone, another holder in.
    await redis.del(`${testRedis.prefix}:lease:${resource}`);
    expect(await semaphore.acquire(resource, "newer-attempt", 1, 10_000)).toBe(true);
    await waitFor(() => lost.length === 1, { timeoutMs: 2_000, intervalMs: 20, what: "the lost lease to be noticed" });
    expect(lost[0]!.message).toBe(`lost the lease on ${resource} to another holder; the attempt was stopped`);
    await held.releaseAll();
    // Releasing never removes the newer holder's permit.
    expect(await semaphore.holders(resource)).toEqual(["newer-attempt"]);
  });
});

import { createTestRedis, type TestRedis, waitFor } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeaseSemaphore } from "./lease-semaphore.js";

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

describe("LeaseSemaphore", () => {
  it("admits at most `capacity` holders and lets a holder renew", async () => {
    expect(await semaphore.acquire("cluster:a", "job1", 2, 10_000)).toBe(true);
    expect(await semaphore.acquire("cluster:a", "job2", 2, 10_000)).toBe(true);
    expect(await semaphore.acquire("cluster:a", "job3", 2, 10_000)).toBe(false);
    expect(await semaphore.acquire("cluster:a", "job1", 2, 10_000)).toBe(true); // renewal
    expect((await semaphore.holders("cluster:a")).sort()).toEqual(["job1", "job2"]);
  });

  it("frees a permit on release", async () => {
    expect(await semaphore.acquire("db:x", "a", 1, 10_000)).toBe(true);
    expect(await semaphore.acquire("db:x", "b", 1, 10_000)).toBe(false);
    await semaphore.release("db:x", "a");
    expect(await semaphore.acquire("db:x", "b", 1, 10_000)).toBe(true);
  });

  it("frees a permit whose lease expired without renewal", async () => {
    expect(await semaphore.acquire("db:y", "stale", 1, 200)).toBe(true);
    expect(await semaphore.acquire("db:y", "fresh", 1, 10_000)).toBe(false);
    await waitFor(() => semaphore.acquire("db:y", "fresh", 1, 10_000), { timeoutMs: 5_000, intervalMs: 50, what: "the stale lease to expire" });
    expect(await semaphore.holders("db:y")).toEqual(["fresh"]);
  });
});

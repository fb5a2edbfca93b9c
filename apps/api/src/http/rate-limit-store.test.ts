// The leasing rate-limit store against the real Redis: counts as the plugin's store did, takes
// Redis's slices instead of a round trip per request, and never admits more than the limit
// across processes (two stores on one Redis stand for two API processes).

import { createTestRedis, type TestRedis } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { leasingRedisStore } from "./rate-limit-store.js";

const WINDOW_MS = 60_000;
let testRedis: TestRedis;
const connections: Redis[] = [];

beforeAll(() => {
  testRedis = createTestRedis();
});
afterAll(async () => {
  for (const connection of connections) connection.disconnect();
  await testRedis.cleanup();
});

/** A store as one API process has it: its own connection, the deployment's namespace. */
function processStore() {
  const redis = new Redis(testRedis.url);
  connections.push(redis);
  const Store = leasingRedisStore(redis, `${testRedis.prefix}:rate-limit:`);
  const store = new Store();
  const calls = { count: 0 };
  const original = redis.evalsha.bind(redis);
  // Counts the store's Redis round trips (defined commands run through evalsha).
  redis.evalsha = ((...args: Parameters<typeof original>) => {
    calls.count++;
    return original(...args);
  }) as typeof redis.evalsha;
  const incr = (key: string, max: number) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) =>
      store.incr(key, (error, result) => (error ? reject(error) : resolve(result!)), WINDOW_MS, max),
    );
  return { incr, calls, redis, store };
}

describe("leasing rate-limit store", () => {
  it("counts requests 1, 2, 3… with one Redis call per slice of max/20", async () => {
    const { incr, calls, redis } = processStore();
    const currents: number[] = [];
    for (let i = 0; i < 100; i++) currents.push((await incr("key:a", 600)).current);
    expect(currents).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    // Slices of 30: four calls, 120 counted in Redis (20 leased and not yet spent).
    expect(calls.count).toBeLessThanOrEqual(4);
    expect(Number(await redis.get(`${testRedis.prefix}:rate-limit:key:a`))).toBe(120);
    const ttl = await redis.pttl(`${testRedis.prefix}:rate-limit:key:a`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(WINDOW_MS);
  });

  it("answers a request from a lease it holds at once, before incr returns", async () => {
    const { incr, store } = processStore();
    await incr("key:sync", 600);
    let answered: number | undefined;
    store.incr("key:sync", (error, result) => (answered = error ? -1 : result!.current), WINDOW_MS, 600);
    expect(answered).toBe(2);
  });

  it("small limits go to Redis every time, exactly as before: the fourth of max 3 is over", async () => {
    const { incr } = processStore();
    const currents = [];
    for (let i = 0; i < 4; i++) currents.push((await incr("key:small", 3)).current);
    expect(currents).toEqual([1, 2, 3, 4]);
  });

  it("concurrent requests of one process share one slice, each with its own count", async () => {
    const { incr, calls } = processStore();
    const results = await Promise.all(Array.from({ length: 50 }, () => incr("key:burst", 600)));
    expect(new Set(results.map((r) => r.current)).size).toBe(50);
    expect(calls.count).toBeLessThanOrEqual(2);
  });

  it("never admits more than the limit across two processes", async () => {
    const stores = [processStore(), processStore()];
    let admitted = 0;
    for (let i = 0; i < 120; i++) {
      const { current } = await stores[i % 2]!.incr("key:shared", 40);
      if (current <= 40) admitted++;
    }
    // Slices of 2: at most one unspent request per process is refused early.
    expect(admitted).toBeLessThanOrEqual(40);
    expect(admitted).toBeGreaterThanOrEqual(38);
  });
});

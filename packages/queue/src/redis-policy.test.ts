// assertRedisKeepsQueueKeys against private redis-server processes (never the shared one: these
// are started with other policies and with CONFIG disabled).

import { type PrivateRedis, startPrivateRedis } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { assertRedisKeepsQueueKeys, RedisPolicyError, readMaxmemoryPolicy } from "./redis-policy.js";

const servers: PrivateRedis[] = [];
const clients: Redis[] = [];
afterAll(async () => {
  for (const client of clients) client.disconnect();
  for (const server of servers) await server.stop();
});

async function clientFor(args: string[]): Promise<Redis> {
  const server = await startPrivateRedis(args);
  servers.push(server);
  const client = new Redis(server.url);
  clients.push(client);
  return client;
}

describe("assertRedisKeepsQueueKeys", () => {
  it("accepts noeviction", async () => {
    const redis = await clientFor(["--maxmemory-policy", "noeviction"]);
    await expect(assertRedisKeepsQueueKeys(redis)).resolves.toBeUndefined();
  });

  it("refuses an evicting policy, naming it", async () => {
    const redis = await clientFor(["--maxmemory-policy", "allkeys-lru"]);
    const error = await assertRedisKeepsQueueKeys(redis).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisPolicyError);
    expect((error as Error).message).toMatch(/^Redis maxmemory-policy is "allkeys-lru", but BullMQ needs "noeviction"/);
  });

  it("reads the policy from INFO where CONFIG is disabled", async () => {
    const redis = await clientFor(["--maxmemory-policy", "volatile-ttl", "--rename-command", "CONFIG", ""]);
    await expect(redis.call("CONFIG", "GET", "maxmemory-policy")).rejects.toThrow(/unknown command/i);
    expect(await readMaxmemoryPolicy(redis)).toBe("volatile-ttl");
    await expect(assertRedisKeepsQueueKeys(redis)).rejects.toThrow(/"volatile-ttl"/);
  });
});

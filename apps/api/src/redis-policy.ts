// The API refuses to run against a Redis that may evict queue keys (see @capy/queue
// redis-policy.ts). Checked at start when Redis answers; when it does not (the API starts and
// serves without Redis), and after every reconnect (a restarted or failed-over Redis may be
// configured differently), it is checked on `ready`, and a wrong policy stops the process.

import { assertRedisKeepsQueueKeys, RedisPolicyError, waitForRedisReady } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";

/** How long the start waits for Redis before starting without it (ms). */
const START_WAIT_MS = 3_000;

export async function guardRedisPolicy(redis: Redis, logger: FastifyBaseLogger, stop: (error: Error) => void): Promise<void> {
  const check = async () => {
    try {
      await assertRedisKeepsQueueKeys(redis);
    } catch (error) {
      if (error instanceof RedisPolicyError) stop(error);
      else logger.warn({ err: error }, "could not check the Redis maxmemory-policy");
    }
  };
  const connected = await waitForRedisReady(redis, START_WAIT_MS);
  // At start a wrong policy throws: the caller refuses to start.
  if (connected) await assertRedisKeepsQueueKeys(redis);
  else logger.warn("Redis not reachable at start; its maxmemory-policy is checked once it connects");
  redis.on("ready", () => void check());
}

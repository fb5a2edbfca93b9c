// BullMQ keeps every job, lock and lease in Redis keys with no TTL. Under any maxmemory-policy
// other than `noeviction`, a Redis at its memory limit silently deletes some of them: jobs
// vanish, locks disappear and two workers run one job. So the API and the workers refuse to
// start against such a Redis.
import type { Redis } from "ioredis";

export const REQUIRED_MAXMEMORY_POLICY = "noeviction";

export class RedisPolicyError extends Error {
  override readonly name = "RedisPolicyError";
  constructor(readonly policy: string) {
    super(
      `Redis maxmemory-policy is "${policy}", but BullMQ needs "${REQUIRED_MAXMEMORY_POLICY}": ` +
        `with "${policy}" Redis may evict queue keys (jobs, locks, leases) under memory pressure. ` +
        `Set maxmemory-policy ${REQUIRED_MAXMEMORY_POLICY} (redis.conf, or CONFIG SET maxmemory-policy ${REQUIRED_MAXMEMORY_POLICY}).`,
    );
  }
}

/** The server's maxmemory-policy: CONFIG GET, or INFO memory where CONFIG is disabled/renamed (managed Redis). */
export async function readMaxmemoryPolicy(redis: Redis): Promise<string> {
  try {
    const reply = (await redis.call("CONFIG", "GET", "maxmemory-policy")) as unknown;
    if (Array.isArray(reply) && typeof reply[1] === "string") return reply[1];
  } catch (error) {
    // "ERR unknown command" (renamed/disabled CONFIG) or NOPERM (ACL): fall back to INFO.
    if (!/unknown command|NOPERM|no permissions|disabled/i.test((error as Error).message)) throw error;
  }
  const info = await redis.info("memory");
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (!policy) throw new Error("cannot read Redis maxmemory-policy: neither CONFIG GET nor INFO memory reports it");
  return policy;
}

/** Throws RedisPolicyError unless Redis keeps queue keys (maxmemory-policy noeviction). */
export async function assertRedisKeepsQueueKeys(redis: Redis): Promise<void> {
  const policy = await readMaxmemoryPolicy(redis);
  if (policy !== REQUIRED_MAXMEMORY_POLICY) throw new RedisPolicyError(policy);
}

/**
 * Resolves once `redis` is connected (true), or false after `timeoutMs` (ms) without a
 * connection: a process that may start while Redis is down checks the policy later, on `ready`.
 */
export function waitForRedisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      redis.off("ready", onReady);
      resolve(false);
    }, timeoutMs);
    redis.once("ready", onReady);
  });
}

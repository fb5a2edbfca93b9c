// A counting semaphore in Redis whose permits are leases: a holder must renew before its lease
// ends (ms), or the permit frees itself. Used for "one dump per database" (capacity 1 per
// locked_resource) and "at most N dumps per cluster" (capacity N). Leases, not connection-bound
// locks, because a worker paused with SIGSTOP keeps its TCP connections open: a lease expires
// anyway, and the fencing token on the job row keeps the stale holder from writing results.
// The clock is Redis's own (TIME), so holders on different hosts agree.
import type { Redis } from "ioredis";

// KEYS[1] = sorted set of holders scored by lease expiry (ms)
// ARGV = holder, capacity, leaseMs
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local lease = tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], lease * 2)
  return 1
end
return 0
`;

export class LeaseSemaphore {
  constructor(
    private readonly redis: Redis,
    /** Key prefix (the deployment's CAPY_REDIS_PREFIX). */
    private readonly prefix: string,
  ) {
    redis.defineCommand("capyAcquireLease", { numberOfKeys: 1, lua: ACQUIRE });
  }

  private key(resource: string): string {
    return `${this.prefix}:lease:${resource}`;
  }

  /**
   * Takes (or renews) a permit for `holder`. Returns false when `capacity` other holders have
   * live leases. Renewing is the same call: a holder whose lease was lost (expired, or Redis
   * flushed) gets it back only if there is room.
   */
  async acquire(resource: string, holder: string, capacity: number, leaseMs: number): Promise<boolean> {
    const acquired = await (
      this.redis as Redis & {
        capyAcquireLease(key: string, holder: string, capacity: number, leaseMs: number): Promise<number>;
      }
    ).capyAcquireLease(this.key(resource), holder, capacity, leaseMs);
    return acquired === 1;
  }

  async release(resource: string, holder: string): Promise<void> {
    await this.redis.zrem(this.key(resource), holder);
  }

  /** Holders with live leases (for tests and metrics). */
  async holders(resource: string): Promise<string[]> {
    const t = await this.redis.time();
    const now = Number(t[0]) * 1000 + Math.floor(Number(t[1]) / 1000);
    return this.redis.zrangebyscore(this.key(resource), now, "+inf");
  }
}

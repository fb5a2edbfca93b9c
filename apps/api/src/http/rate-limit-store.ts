// The rate limiter's store (rate-limit.ts): counts in Redis (one fixed window per key, shared
// by every API process, like the RedisStore of @fastify/rate-limit, which the API used before)
// but takes requests from Redis in leases: one Redis call admits up to LEASE_FRACTION of the
// limit, spent locally by the following requests. That RedisStore made a Redis round trip per
// request, which on a loaded host cost more than the rest of an authenticated request
// (bench/api-throughput).
// Guarantees: never more than `max` requests per window across all processes (leases are
// counted in Redis when granted); a process may refuse up to (lease - 1) requests early while
// another process holds unspent ones. Limits under 1 / LEASE_FRACTION lease one at a time,
// i.e. exactly that RedisStore's behaviour.
import type { Redis } from "ioredis";

/** Share of the limit one lease may take. */
const LEASE_FRACTION = 1 / 20;
/** Keys whose lease this process remembers; beyond it, expired ones are forgotten. */
const MAX_LOCAL_KEYS = 10_000;

/**
 * KEYS[1] counter; ARGV: window (ms), lease wanted, max. Grants min(lease, max - count) and
 * counts it; with nothing left, counts the request anyway (so it reads as exceeded). Returns
 * { count after, granted, ttl (ms) }.
 */
const LEASE_SCRIPT = `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[2]), math.max(0, tonumber(ARGV[3]) - count))
count = redis.call('INCRBY', KEYS[1], math.max(grant, 1))
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, grant, ttl}
`;

type LeaseRedis = Redis & { capyRateLimitLease(key: string, windowMs: number, lease: number, max: number): Promise<[number, number, number]> };

interface Lease {
  /** Requests granted and not yet spent. */
  tokens: number;
  /** The window's count in Redis after the last grant. */
  counted: number;
  /** When the window ends (ms since the epoch). */
  endsAt: number;
  /** The grant in flight, if any: concurrent requests wait for it instead of asking again. */
  pending?: Promise<void>;
}

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

export function leasingRedisStore(redis: Redis, nameSpace: string) {
  if (!("capyRateLimitLease" in redis)) redis.defineCommand("capyRateLimitLease", { numberOfKeys: 1, lua: LEASE_SCRIPT });
  const leaseRedis = redis as LeaseRedis;

  return class LeasingRedisStore {
    readonly #prefix = nameSpace;
    readonly #leases = new Map<string, Lease>();

    incr(key: string, callback: Callback, timeWindow: number, max: number): void {
      // Most requests spend a token of a lease already held: answered at once, with no promise.
      const spent = this.#spendLocal(key, Date.now());
      if (spent) {
        callback(null, spent);
        return;
      }
      this.#take(key, timeWindow, max).then(
        (result) => callback(null, result),
        (error: Error) => callback(error),
      );
    }

    /** One token of this process's lease on `key`, if it holds an unspent one in a live window. */
    #spendLocal(key: string, now: number): { current: number; ttl: number } | undefined {
      const lease = this.#leases.get(key);
      if (!lease || lease.pending || lease.endsAt <= now || lease.tokens <= 0) return undefined;
      lease.tokens--;
      return { current: lease.counted - lease.tokens, ttl: lease.endsAt - now };
    }

    async #take(key: string, windowMs: number, max: number): Promise<{ current: number; ttl: number }> {
      for (;;) {
        const now = Date.now();
        const lease = this.#leases.get(key);
        if (lease?.pending) {
          await lease.pending;
          continue;
        }
        const spent = this.#spendLocal(key, now);
        if (spent) return spent;
        const next: Lease = lease && lease.endsAt > now ? lease : { tokens: 0, counted: 0, endsAt: 0 };
        const wanted = Math.max(1, Math.floor(max * LEASE_FRACTION));
        const reply = leaseRedis.capyRateLimitLease(this.#prefix + key, windowMs, wanted, max);
        next.pending = reply.then(
          () => {},
          () => {},
        );
        this.#remember(key, next, now);
        try {
          const [count, granted, ttl] = await reply;
          // This request takes one of the granted; with none granted it was counted over the limit.
          Object.assign(next, { tokens: Math.max(0, granted - 1), counted: count, endsAt: now + ttl });
          return { current: granted > 0 ? count - (granted - 1) : count, ttl };
        } finally {
          next.pending = undefined;
        }
      }
    }

    #remember(key: string, lease: Lease, now: number): void {
      if (this.#leases.size >= MAX_LOCAL_KEYS) {
        for (const [name, old] of this.#leases) if (old.endsAt <= now && !old.pending) this.#leases.delete(name);
      }
      this.#leases.set(key, lease);
    }
  };
}

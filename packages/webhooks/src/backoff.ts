// When a failed delivery is tried again: exponential backoff with jitter. Attempt n (1-based)
// failed → the next one waits base × 3^(n-1), capped, times a random factor in [0.8, 1.2).
// With the default one-minute base, 8 attempts span roughly 18 hours; the factor 3 keeps every
// gap longer than the one before whatever the jitter (3 × 0.8 > 1.2).

export interface BackoffPolicy {
  /** Delay after the first failed attempt (ms). */
  baseMs: number;
  /** No gap is longer than this (ms). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 12 * 3_600_000 };

export function retryDelayMs(failedAttempts: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = Math.min(policy.baseMs * 3 ** Math.max(0, failedAttempts - 1), policy.maxMs);
  return Math.round(exponential * (0.8 + 0.4 * random()));
}

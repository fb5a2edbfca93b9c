// Real Redis for tests: each test gets its own key prefix on the shared server and deletes only
// its own keys afterwards; nothing here flushes the shared server.
import { Redis } from "ioredis";
import { uniqueName } from "./postgres.js";
import { RUN_TAG_PATTERN } from "./test-run.js";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

export interface TestRedis {
  url: string;
  prefix: string;
  cleanup(): Promise<void>;
}

/** What test prefixes start with; inside a vitest run, `capytest_<run>_` (uniqueName). */
const PREFIX_ROOT = "capytest";

export function createTestRedis(): TestRedis {
  const prefix = uniqueName(PREFIX_ROOT);
  return { url: TEST_REDIS_URL, prefix, cleanup: () => deleteKeys(`${prefix}:*`) };
}

/** Deletes every key of a run's prefixes (the run's teardown, or the next run's start for a run killed before its teardown). */
export function deleteRunKeys(run: string): Promise<void> {
  return deleteKeys(`${PREFIX_ROOT}_${run}_*`);
}

/** The runs that have keys on the server (their tags). */
export async function runsWithKeys(): Promise<string[]> {
  const runs = new Set<string>();
  const runIn = new RegExp(`^${PREFIX_ROOT}_(${RUN_TAG_PATTERN})_`);
  await scanKeys(`${PREFIX_ROOT}_r*`, async (keys) => {
    for (const key of keys) {
      const run = runIn.exec(key)?.[1];
      if (run) runs.add(run);
    }
  });
  return [...runs];
}

async function deleteKeys(pattern: string): Promise<void> {
  await scanKeys(pattern, async (keys, redis) => {
    await redis.del(...keys);
  });
}

/** Calls `found` with each batch of the keys matching `pattern`, on a connection of its own. */
async function scanKeys(pattern: string, found: (keys: string[], redis: Redis) => Promise<void>): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  try {
    // Inside the try: a client whose connect failed keeps reconnecting until disconnected.
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await found(keys, redis);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

// Reads BullMQ job schedulers straight from Redis, for tests whose package cannot depend on
// @capy/queue (the e2e suite): BullMQ 6 keeps them in the sorted set `<prefix>:<queue>:repeat`
// (score: next run, ms) with one hash `<prefix>:<queue>:repeat:<id>` each (pattern, tz, …).
import { Redis } from "ioredis";

export interface StoredJobScheduler {
  key: string;
  next: number;
  pattern: string | undefined;
  tz: string | undefined;
}

export async function listJobSchedulers(url: string, prefix: string, queue: string): Promise<StoredJobScheduler[]> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const base = `${prefix}:${queue}:repeat`;
    const flat = await redis.zrange(base, "0", "-1", "WITHSCORES");
    const out: StoredJobScheduler[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const hash = await redis.hgetall(`${base}:${flat[i]}`);
      out.push({ key: flat[i]!, next: Number(flat[i + 1]), pattern: hash.pattern, tz: hash.tz });
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

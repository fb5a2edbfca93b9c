// Real Redis for tests: each test gets its own key prefix on the shared server and deletes only
// its own keys afterwards; nothing here flushes the shared server.
import { Redis } from "ioredis";
import { uniqueName } from "./postgres.js";

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379/0";

export interface TestRedis {
  url: string;
  prefix: string;
  cleanup(): Promise<void>;
}

export function createTestRedis(): TestRedis {
  const prefix = uniqueName("capytest");
  return {
    url: TEST_REDIS_URL,
    prefix,
    async cleanup() {
      const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
      try {
        // Inside the try: a client whose connect failed keeps reconnecting until disconnected.
        await redis.connect();
        let cursor = "0";
        do {
          const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== "0");
      } finally {
        redis.disconnect();
      }
    },
  };
}

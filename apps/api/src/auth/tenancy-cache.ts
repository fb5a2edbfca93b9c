// The API keys and projects every request looks up, cached in this process: two Prisma queries
// of each authenticated request before (bench/api-throughput). Postgres stays the truth:
// - An API process that changes a key (revocation) publishes on Redis after the commit and
//   before it answers; Redis writes that message to every API process's subscriber in the same
//   turn as its reply to the publisher, so any request sent after the revocation's answer finds
//   the cache already dropped, in every process.
// - Postgres also notifies every API process at the commit of any change to a key or a project
//   (trigger; @capy/db change feed), whoever makes it: the admin CLI, plain SQL. That one
//   arrives as soon as Postgres delivers it (normally well under a millisecond).
// - Either message drops the whole cache. While either feed is disconnected, nothing is cached
//   and every lookup reads Postgres.
// - A lookup that raced a message (read before, stored after) is not stored (generation).
// - Expiry and revocation are checked on every request by the caller, from the row.
// - Entries older than MAX_AGE_MS are read again anyway: a bound should a message ever be
//   missed without its connection dropping.

import { type ApiKey, type ChangeFeed, type Db, listenForTenancyChanges, type Project } from "@capy/db";
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";

/** Longest an entry is trusted without a notification (ms). */
const MAX_AGE_MS = 60_000;
/** Entries kept per kind; the oldest goes first beyond it. */
const MAX_ENTRIES = 10_000;

interface Entry<T> {
  value: T;
  storedAt: number;
}

/** One kind of row by key; rows are shared objects: callers must not change them. */
class RowCache<T> {
  readonly #entries = new Map<string, Entry<T>>();

  get(key: string, now: number): T | undefined {
    const entry = this.#entries.get(key);
    return entry && now - entry.storedAt < MAX_AGE_MS ? entry.value : undefined;
  }

  set(key: string, value: T, now: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { value, storedAt: now });
  }

  clear(): void {
    this.#entries.clear();
  }
}

export interface TenancyLookup {
  /** The key with this SHA-256, or null. */
  apiKey(keyHash: string): Promise<ApiKey | null>;
  /** The project, or null. */
  project(id: string): Promise<Project | null>;
}

export interface TenancyCache extends TenancyLookup {
  /** Whether lookups are served from memory (both feeds are live). */
  readonly live: boolean;
  /** Tells every API process, this one included, that a key or project changed (after the commit). */
  announceChange(): Promise<void>;
  close(): Promise<void>;
}

export interface TenancyCacheDeps {
  db: Db;
  databaseUrl: string;
  /** A connection to duplicate for the subscriber, and the deployment's key prefix. */
  redis: Redis;
  redisPrefix: string;
  log: FastifyBaseLogger;
}

export function createTenancyCache({ db, databaseUrl, redis, redisPrefix, log }: TenancyCacheDeps): TenancyCache {
  const keys = new RowCache<ApiKey>();
  const projects = new RowCache<Project>();
  let live = false;
  /** Bumped by every notification and feed state change; a lookup stores only if unchanged. */
  let generation = 0;
  const invalidate = () => {
    generation++;
    keys.clear();
    projects.clear();
  };

  async function lookup<T>(cache: RowCache<T>, key: string, load: () => Promise<T | null>): Promise<T | null> {
    const now = Date.now();
    if (live) {
      const hit = cache.get(key, now);
      if (hit !== undefined) return hit;
    }
    const started = generation;
    const row = await load();
    if (row !== null && live && generation === started) cache.set(key, row, now);
    return row;
  }

  /** Which feeds are connected and listening. */
  const feeds = { postgres: false, redis: false };
  const setLive = (feed: keyof typeof feeds, up: boolean) => {
    invalidate();
    feeds[feed] = up;
    const next = feeds.postgres && feeds.redis;
    if (next !== live) log.info({ live: next, feeds }, next ? "tenancy cache on" : "tenancy cache off until its change feeds reconnect");
    live = next;
  };

  const pgFeed: ChangeFeed = listenForTenancyChanges(databaseUrl, {
    onChange: invalidate,
    onLive: (up) => setLive("postgres", up),
    onError: (err) => log.warn({ err }, "tenancy change feed (Postgres) connection failed; retrying"),
  });
  const channel = `${redisPrefix}:tenancy-changed`;
  // Subscribed on every (re)connection; off from the moment the connection goes.
  const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on("error", () => {});
  subscriber.on("message", invalidate);
  subscriber.on("close", () => setLive("redis", false));
  subscriber.on("ready", () => {
    subscriber.subscribe(channel).then(
      () => setLive("redis", true),
      (err: unknown) => log.warn({ err }, "tenancy change feed (Redis) subscription failed"),
    );
  });

  return {
    get live() {
      return live;
    },
    apiKey: (keyHash) => lookup(keys, keyHash, () => db.apiKey.findUnique({ where: { keyHash } })),
    project: (id) => lookup(projects, id, () => db.project.findUnique({ where: { id } })),
    async announceChange() {
      invalidate();
      // Without Redis the other processes still learn it from Postgres's notification.
      await redis.publish(channel, "changed").catch((err: unknown) => log.warn({ err }, "tenancy change not published on Redis"));
    },
    async close() {
      await pgFeed.close();
      subscriber.disconnect();
    },
  };
}

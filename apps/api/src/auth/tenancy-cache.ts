// The API keys and projects every request looks up, cached in this process: two Prisma queries
// of each authenticated request before (bench/api-throughput). Postgres stays the truth:
// - Postgres notifies every API process at the commit of any change to a key (revocation,
//   scopes, project) or a project (deletion, move), whoever makes it (@capy/db change feed);
//   the whole cache is dropped then, so the next request reads the row again.
// - While that feed is not connected, nothing is cached and every lookup reads Postgres.
// - A lookup that raced a notification (read before, stored after) is not stored (generation).
// - Expiry and revocation are checked on every request by the caller, from the row.
// - Entries older than MAX_AGE_MS are read again anyway: a bound should a notification ever be
//   missed without the connection dropping.
import type { FastifyBaseLogger } from "fastify";
import { listenForTenancyChanges, type ApiKey, type ChangeFeed, type Db, type Project } from "@capy/db";

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
  /** Whether lookups are served from memory (the change feed is live). */
  readonly live: boolean;
  close(): Promise<void>;
}

export function createTenancyCache(db: Db, databaseUrl: string, log: FastifyBaseLogger): TenancyCache {
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

  const feed: ChangeFeed = listenForTenancyChanges(databaseUrl, {
    onChange: invalidate,
    onLive(next) {
      invalidate();
      if (next !== live) log.info({ live: next }, next ? "tenancy cache on" : "tenancy cache off until the change feed reconnects");
      live = next;
    },
    onError: (err) => log.warn({ err }, "tenancy change feed connection failed; retrying"),
  });

  return {
    get live() {
      return live;
    },
    apiKey: (keyHash) => lookup(keys, keyHash, () => db.apiKey.findUnique({ where: { keyHash } })),
    project: (id) => lookup(projects, id, () => db.project.findUnique({ where: { id } })),
    close: () => feed.close(),
  };
}

// Everything the server needs from the outside world, built once by main.ts and injected into
// buildServer, so tests and other entry points can supply their own.

import { type AgeTools, type IdentityLookup, resolveAge, resolveZstd } from "@capy/artifact";
import { createDb, type Db } from "@capy/db";
import { encryptionIdentityLookup } from "@capy/jobs";
import {
  type BackupQueue,
  createBackupQueue,
  createProducerConnection,
  createScheduleQueue,
  createWebhookQueue,
  type ScheduleQueue,
  type WebhookQueue,
} from "@capy/queue";
import { type ArtifactStorage, createStorage } from "@capy/storage";
import type { FastifyBaseLogger } from "fastify";
import type { Redis } from "ioredis";
import { type Authenticate, createAuthenticator } from "./auth/authenticate.js";
import { createSessionVerifier, type SessionVerifier } from "./auth/session.js";
import { createTenancyCache, type TenancyCache } from "./auth/tenancy-cache.js";
import type { Config } from "./env.js";
import { BackgroundEnqueues } from "./services/enqueues.js";

export interface AppDeps {
  config: Config;
  /** The process logger (pino); Fastify derives per-request children from it. */
  logger: FastifyBaseLogger;
  db: Db;
  /** The producer connection the queue uses; also pinged by /readyz. */
  redis: Redis;
  queue: BackupQueue;
  /** Enqueues of committed job rows that answers do not wait for; drained at shutdown. */
  enqueues: BackgroundEnqueues;
  /** Job schedulers of scheduled backups (PUT syncs the schedule's scheduler). */
  scheduleQueue: ScheduleQueue;
  storage: ArtifactStorage;
  /** Absolute path of zstd: downloads of zstd artifacts are decompressed on the fly. */
  zstd: string;
  /** age and the platform keys' identities: downloads of encrypted artifacts are decrypted on the fly. */
  decrypt: { age: AgeTools; identity: IdentityLookup };
  /** API keys and projects, cached while Postgres notifies their changes. */
  tenancy: TenancyCache;
  /** Webhook delivery attempts (test pings and redeliveries are queued by the API). */
  webhookQueue: WebhookQueue;
  /** API keys and session tokens to a Principal (throws AppError UNAUTHORIZED). */
  authenticate: Authenticate;
  /** Session tokens alone (also used to key rate limits by user). */
  verifySession: SessionVerifier;
}

export function createDeps(config: Config, logger: FastifyBaseLogger): AppDeps {
  // First: a missing zstd or age refuses the start, before any connection is opened.
  const zstd = resolveZstd(config.searchPath);
  const age = resolveAge(config.searchPath);
  const redis = createProducerConnection(config.redis);
  const db = createDb(config.databaseUrl);
  const verifySession = createSessionVerifier(config.sessions);
  const queue = createBackupQueue(redis, config.redis.prefix);
  const tenancy = createTenancyCache({ db, databaseUrl: config.databaseUrl, redis, redisPrefix: config.redis.prefix, log: logger });
  return {
    config,
    logger,
    db,
    tenancy,
    verifySession,
    authenticate: createAuthenticator({ db, tenancy, verifySession }),
    redis,
    queue,
    enqueues: new BackgroundEnqueues(queue),
    scheduleQueue: createScheduleQueue(redis, config.redis.prefix),
    webhookQueue: createWebhookQueue(redis, config.redis.prefix),
    storage: createStorage({ storageDir: config.storageDir, s3: config.s3 }),
    zstd,
    decrypt: { age, identity: encryptionIdentityLookup(db, config.keyring) },
  };
}

/** Closes what createDeps opened. The queue does not own the connection it was given. */
export async function closeDeps(deps: AppDeps): Promise<void> {
  await deps.enqueues.drain();
  await deps.queue.close();
  await deps.scheduleQueue.close();
  await deps.webhookQueue.close();
  await deps.redis.quit().catch(() => deps.redis.disconnect());
  await deps.tenancy.close();
  await deps.db.$disconnect();
  await deps.storage.close?.();
}

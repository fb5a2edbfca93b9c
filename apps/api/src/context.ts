// The tRPC context, built per request by both adapters (native /trpc and REST /v1). It carries
// services and the request's own logger (whose lines carry reqId); authentication happens
// lazily in protectedProcedure, so unknown routes and public calls never touch the database.
import type { IncomingHttpHeaders } from "node:http";
import type { Db, Keyring } from "@capy/db";
import type { BackupQueue, ScheduleQueue, WebhookQueue } from "@capy/queue";
import type { ArtifactStorage } from "@capy/storage";
import type { TargetPolicy } from "@capy/webhooks";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import type { Authenticate } from "./auth/authenticate.js";
import type { TenancyCache } from "./auth/tenancy-cache.js";
import type { AppDeps } from "./deps.js";
import type { Config } from "./env.js";
import type { BackgroundEnqueues } from "./services/enqueues.js";

export interface Context {
  db: Db;
  /** API keys and projects, cached while Postgres notifies their changes. */
  tenancy: TenancyCache;
  queue: BackupQueue;
  /** Enqueues of committed job rows that answers do not wait for. */
  enqueues: BackgroundEnqueues;
  scheduleQueue: ScheduleQueue;
  storage: ArtifactStorage;
  log: FastifyBaseLogger;
  headers: IncomingHttpHeaders;
  authenticate: Authenticate;
  /** What restores and previews need: the cap on live previews, the key sealing their passwords. */
  config: Pick<Config, "previewsPerProject" | "keyring">;
  webhooks: WebhookSettings;
}

/** What the webhook procedures need beyond the database. */
export interface WebhookSettings {
  queue: WebhookQueue;
  policy: TargetPolicy;
  /** Seals webhook secrets; undefined = webhooks cannot be created (503). */
  keyring: Keyring | undefined;
  /** Where a webhook's project is looked up (tenancy checks). */
  tenancy: TenancyCache;
}

export function createContextFactory(
  deps: Pick<AppDeps, "db" | "tenancy" | "queue" | "enqueues" | "scheduleQueue" | "storage" | "authenticate" | "webhookQueue" | "config">,
) {
  const webhooks: WebhookSettings = { queue: deps.webhookQueue, policy: deps.config.webhookPolicy, keyring: deps.config.keyring, tenancy: deps.tenancy };
  return ({ req }: { req: FastifyRequest }): Context => ({
    db: deps.db,
    tenancy: deps.tenancy,
    queue: deps.queue,
    enqueues: deps.enqueues,
    scheduleQueue: deps.scheduleQueue,
    storage: deps.storage,
    log: req.log,
    headers: req.headers,
    authenticate: deps.authenticate,
    config: deps.config,
    webhooks,
  });
}

// The tRPC context, built per request by both adapters (native /trpc and REST /v1). It carries
// services and the request's own logger (whose lines carry reqId); authentication happens
// lazily in protectedProcedure, so unknown routes and public calls never touch the database.
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import type { Db } from "@capy/db";
import type { BackupQueue, ScheduleQueue, WebhookQueue } from "@capy/queue";
import type { TargetPolicy } from "@capy/webhooks";
import type { ArtifactStorage } from "@capy/storage";
import type { Authenticate } from "./auth/authenticate.js";
import type { AppDeps } from "./deps.js";

export interface Context {
  db: Db;
  queue: BackupQueue;
  scheduleQueue: ScheduleQueue;
  storage: ArtifactStorage;
  log: FastifyBaseLogger;
  headers: IncomingHttpHeaders;
  authenticate: Authenticate;
  webhooks: WebhookSettings;
}

/** What the webhook procedures need beyond the database. */
export interface WebhookSettings {
  queue: WebhookQueue;
  policy: TargetPolicy;
  /** Seals webhook secrets; undefined = webhooks cannot be created (503). */
  encryptionKey: string | undefined;
}

export function createContextFactory(deps: Pick<AppDeps, "db" | "queue" | "scheduleQueue" | "storage" | "authenticate" | "webhookQueue" | "config">) {
  const webhooks: WebhookSettings = { queue: deps.webhookQueue, policy: deps.config.webhookPolicy, encryptionKey: deps.config.encryptionKey };
  return ({ req }: { req: FastifyRequest }): Context => ({
    db: deps.db,
    queue: deps.queue,
    scheduleQueue: deps.scheduleQueue,
    storage: deps.storage,
    log: req.log,
    headers: req.headers,
    authenticate: deps.authenticate,
    webhooks,
  });
}

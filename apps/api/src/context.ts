// The tRPC context, built per request by both adapters (native /trpc and REST /v1). It carries
// services and the request's own logger (whose lines carry reqId); authentication happens
// lazily in protectedProcedure, so unknown routes and public calls never touch the database.
import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger, FastifyRequest } from "fastify";
import type { Db } from "@capy/db";
import type { BackupQueue, ScheduleQueue } from "@capy/queue";
import type { ArtifactStorage } from "@capy/storage";
import type { Authenticate } from "./auth/authenticate.js";
import type { TenancyCache } from "./auth/tenancy-cache.js";
import type { AppDeps } from "./deps.js";

export interface Context {
  db: Db;
  /** API keys and projects, cached while Postgres notifies their changes. */
  tenancy: TenancyCache;
  queue: BackupQueue;
  scheduleQueue: ScheduleQueue;
  storage: ArtifactStorage;
  log: FastifyBaseLogger;
  headers: IncomingHttpHeaders;
  authenticate: Authenticate;
}

export function createContextFactory(deps: Pick<AppDeps, "db" | "tenancy" | "queue" | "scheduleQueue" | "storage" | "authenticate">) {
  return ({ req }: { req: FastifyRequest }): Context => ({
    db: deps.db,
    tenancy: deps.tenancy,
    queue: deps.queue,
    scheduleQueue: deps.scheduleQueue,
    storage: deps.storage,
    log: req.log,
    headers: req.headers,
    authenticate: deps.authenticate,
  });
}

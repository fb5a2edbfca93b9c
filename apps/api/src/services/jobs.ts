// Reading jobs, and creating one on request (rows are written by @capy/jobs only).

import { type Db, type Job, type JobView, type NewAuditRow, type Project, readJob, readProjectJobs } from "@capy/db";
import { insertJobRowAlone, type NewJob } from "@capy/jobs";
import type { FastifyBaseLogger } from "fastify";
import { isVisible } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";
import type { BackgroundEnqueues } from "./enqueues.js";

/** Newest first. A hot read: SQL on Prisma's pool (see @capy/db hot-paths). */
export function listJobs(db: Db, project: Project, limit: number): Promise<readonly JobView[]> {
  return readProjectJobs(db, project.id, limit);
}

export async function getJob(db: Db, principal: Principal, jobId: string): Promise<JobView> {
  // By primary key (a hot read, see listJobs), then the tenancy check on the row, exactly
  // tenantScope's.
  const job = await readJob(db, jobId);
  if (!job || !isVisible(principal, job)) throw new AppError("NOT_FOUND", "job not found");
  return job;
}

export interface CreateJobDeps {
  db: Db;
  enqueues: BackgroundEnqueues;
  log: FastifyBaseLogger;
}

/**
 * Records a pending job (with `audit`, its audit event, in the same statement) and starts its
 * enqueue, which the caller does not wait for unless Redis has fallen behind (BackgroundEnqueues).
 * Postgres is the source of truth: when Redis is unreachable the row stays pending, the
 * reconciler enqueues it later, and the caller still gets the job to poll.
 */
export async function createJob(deps: CreateJobDeps, input: NewJob, audit?: NewAuditRow): Promise<Job> {
  const job = await insertJobRowAlone(deps.db, input, audit);
  await deps.enqueues.start(job, deps.log);
  return job;
}

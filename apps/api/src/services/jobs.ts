// Reading jobs, and creating one on request (rows are written by @capy/jobs only).

import { asModelRows, type Db, type Job, type Project } from "@capy/db";
import { enqueueJob, insertJobRow, type NewJob } from "@capy/jobs";
import { type BackupQueue, withTimeout } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";
import { isVisible } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";

/**
 * Newest first; ids are ULIDs, so they break ties between equal timestamps. Raw: see asModelRows
 * (the list's largest CPU cost was findMany's plan compilation).
 */
export async function listJobs(db: Db, project: Project, limit: number): Promise<Job[]> {
  const rows = await db.$queryRaw<Record<string, unknown>[]>`
    SELECT * FROM jobs WHERE project_id = ${project.id} ORDER BY created_at DESC, id DESC LIMIT ${limit}`;
  return asModelRows<Job>(rows);
}

export async function getJob(db: Db, principal: Principal, jobId: string): Promise<Job> {
  // By primary key, raw (see asModelRows: Prisma compiled findFirst's plan on every call), then
  // the tenancy check on the row, exactly tenantScope's.
  const [job] = asModelRows<Job>(await db.$queryRaw<Record<string, unknown>[]>`SELECT * FROM jobs WHERE id = ${jobId}`);
  if (!job || !isVisible(principal, job)) throw new AppError("NOT_FOUND", "job not found");
  return job;
}

/** How long a request waits for Redis to accept a job before leaving it to the reconciler (ms). */
const ENQUEUE_TIMEOUT_MS = 2_000;

export interface CreateJobDeps {
  db: Db;
  queue: BackupQueue;
  log: FastifyBaseLogger;
}

/**
 * Records a pending job and enqueues it. Postgres is the source of truth: when Redis is
 * unreachable the row stays pending, the reconciler enqueues it later, and the caller still
 * gets the job to poll.
 */
export async function createJob(deps: CreateJobDeps, input: NewJob): Promise<Job> {
  const job = await insertJobRow(deps.db, input);
  await enqueueRecorded(deps, job);
  return job;
}

/** Enqueues a job whose row is committed; when Redis does not answer, the reconciler will. */
export async function enqueueRecorded({ queue, log }: Pick<CreateJobDeps, "queue" | "log">, job: Job): Promise<void> {
  try {
    await withTimeout(enqueueJob(queue, job), ENQUEUE_TIMEOUT_MS, "enqueue");
  } catch (err) {
    log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
  }
}

// Reading jobs, and creating one on request (rows are written by @capy/jobs only).
import type { FastifyBaseLogger } from "fastify";
import type { Db, Job, Project } from "@capy/db";
import { enqueueJob, insertJobRow, type NewJob } from "@capy/jobs";
import { withTimeout, type BackupQueue } from "@capy/queue";
import { tenantScope } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";

/** Newest first; ids are ULIDs, so they break ties between equal timestamps. */
export function listJobs(db: Db, project: Project, limit: number): Promise<Job[]> {
  return db.job.findMany({
    where: { projectId: project.id },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

export async function getJob(db: Db, principal: Principal, jobId: string): Promise<Job> {
  const job = await db.job.findFirst({ where: { id: jobId, ...tenantScope(principal) } });
  if (!job) throw new AppError("NOT_FOUND", "job not found");
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
export async function createJob({ db, queue, log }: CreateJobDeps, input: NewJob): Promise<Job> {
  const job = await insertJobRow(db, input);
  try {
    await withTimeout(enqueueJob(queue, job), ENQUEUE_TIMEOUT_MS, "enqueue");
  } catch (err) {
    log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
  }
  return job;
}

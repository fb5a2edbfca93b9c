// Idempotency-Key for job creation: a retried POST (lost answer, client timeout, double click)
// with the same key, for the same project, within IDEMPOTENCY_WINDOW_MS gets the job the first
// request created instead of a second job. jobs has a unique (project_id, idempotency_key)
// index, so concurrent requests with one key insert one row: the losers hit the unique
// violation and answer with the winner.
import type { IncomingHttpHeaders } from "node:http";
import { isUniqueViolation, type Job, type NewAuditRow, readJobByIdempotencyKey } from "@capy/db";
import { type NewJob, releaseIdempotencyKey } from "@capy/jobs";
import { AppError } from "../errors.js";
import { type CreateJobDeps, createJob } from "./jobs.js";

/** How long a key names its job (ms): 24 hours. After that the key may create a new job. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000;

/** Longest accepted key (characters). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;

/** Printable ASCII only (space to tilde), so keys are safe to store, log and compare. */
const PRINTABLE = /^[\x20-\x7e]+$/;

/** The request's Idempotency-Key header, validated; undefined when absent (400 when malformed). */
export function readIdempotencyKey(headers: IncomingHttpHeaders): string | undefined {
  const raw = headers["idempotency-key"];
  if (raw === undefined) return undefined;
  // Node joins repeated headers of unknown names with ", "; two keys in one request is an error.
  if (Array.isArray(raw)) throw new AppError("BAD_REQUEST", "Idempotency-Key header must be given once");
  const key = raw.trim();
  if (key === "") throw new AppError("BAD_REQUEST", "Idempotency-Key header must not be empty");
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new AppError("BAD_REQUEST", `Idempotency-Key header must be at most ${IDEMPOTENCY_KEY_MAX_LENGTH} characters`);
  }
  if (!PRINTABLE.test(key)) throw new AppError("BAD_REQUEST", "Idempotency-Key header must be printable ASCII");
  return key;
}

export interface CreatedJob {
  job: Job;
  /** true when the job was created by an earlier request with the same key. */
  replayed: boolean;
}

/**
 * createJob, once per (project, key) per IDEMPOTENCY_WINDOW_MS. Without a key, always a new job.
 * `audit` is recorded with a new job only, never with a replayed one.
 */
export async function createJobOnce(deps: CreateJobDeps, input: NewJob, key: string | undefined, audit?: NewAuditRow, now = new Date()): Promise<CreatedJob> {
  if (key === undefined) return { job: await createJob(deps, { ...input, idempotencyKey: null }, audit), replayed: false };
  const cutoff = new Date(now.getTime() - IDEMPOTENCY_WINDOW_MS);

  const existing = await readJobByIdempotencyKey(deps.db, input.projectId, key);
  if (existing && existing.createdAt > cutoff) return { job: existing, replayed: true };
  // Expired: the old job gives the key up and keeps everything else.
  if (existing) await releaseIdempotencyKey(deps.db, existing.id, key, cutoff);
  try {
    return { job: await createJob(deps, { ...input, idempotencyKey: key }, audit), replayed: false };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    // A concurrent request with the same key won the insert: answer with its job.
    const winner = await readJobByIdempotencyKey(deps.db, input.projectId, key);
    if (!winner) throw new AppError("CONFLICT", "a request with this Idempotency-Key is in progress; retry", { cause: error });
    return { job: winner, replayed: true };
  }
}

// The catalogue of job kinds: one entry per JobType (a missing or extra kind does not compile),
// holding what the lifecycle needs to know about a kind wherever it runs: the payload its row
// carries, its retry policy and timeout, the resource it locks, and its hooks for a cancel and
// for a lost worker (run inside the transaction that ends the job, before its event). The worker
// completes each entry with its handler (WorkerCatalogue, in apps/worker/src/catalogue.ts).

import { type JobType, RestoreJobOptions } from "@capy/contracts";
import type { Job } from "@capy/db";
import { z } from "zod";
import { deleteJobBackups, failPendingVerification, LOST_BEFORE_VERIFIED } from "./backups.js";
import type { Tx } from "./events.js";

export interface RetryPolicy {
  /** Attempts before the job is failed for good (BullMQ `attempts`, our `max_attempts`). */
  maxAttempts: number;
  /** Base of the exponential backoff between attempts (ms), jittered by ±50 %. */
  backoffMs: number;
}

/** Where a job runs: the project's cluster and database. */
export interface JobTarget {
  clusterId: string;
  databaseName: string;
}

export interface JobKind<Payload extends z.ZodType = z.ZodType> {
  /**
   * The kind's fields of the job row (create.ts validates a new job's fields with it; a field
   * another kind uses is refused).
   */
  payload: Payload;
  retry: RetryPolicy;
  /** Longest the kind's main work may run before it is stopped and the job fails (ms; worker env may override). */
  timeoutMs: number;
  /** `locked_resource`: at most one job holding it runs at a time. */
  lockedResource(target: JobTarget): string;
  /** Also takes one of the cluster's dump slots (DUMP_CONCURRENCY_PER_CLUSTER) while it runs. */
  dumpSlot: boolean;
  /**
   * In the transaction that ends the job `canceled`: removes the rows the job made. Returns the
   * storage keys of what they pointed at, for the worker to remove once that commits.
   */
  onCancel(tx: Tx, job: Job): Promise<string[]>;
  /** In the transaction that ends the job `failed` because its last allowed attempt lost its worker. */
  onWorkerLost(tx: Tx, job: Job): Promise<void>;
}

/** `locked_resource` of every job touching one database: at most one runs at a time. */
export function databaseResource(clusterId: string, databaseName: string): string {
  return `database:${clusterId}/${databaseName}`;
}

/** `error` of a job that ended `canceled` because its cancel was requested (API, worker, reconciler). */
export const CANCELED_ERROR = "canceled by request";

const nullableString = z.string().nullable().optional();

export type JobKinds = { readonly [Type in JobType]: JobKind };

export const JOB_KINDS: JobKinds = {
  backup: {
    // On demand (label) or fired by a schedule (its id and due time, unique together).
    payload: z.strictObject({ label: nullableString, scheduleId: nullableString, dueAt: z.date().nullable().optional() }),
    retry: { maxAttempts: 3, backoffMs: 5_000 },
    // pg_dump's limit (DUMP_TIMEOUT_MS): 6 h.
    timeoutMs: 6 * 3_600_000,
    lockedResource: ({ clusterId, databaseName }) => databaseResource(clusterId, databaseName),
    dumpSlot: true,
    // A canceled backup job keeps nothing: its backup row goes (its artifacts after commit).
    onCancel: (tx, job) => deleteJobBackups(tx, job.id),
    // Its backup, if the dump was recorded, must not stay `pending` verification.
    onWorkerLost: (tx, job) => failPendingVerification(tx, job.id, LOST_BEFORE_VERIFIED),
  },
  verify: {
    payload: z.strictObject({ backupId: z.string().startsWith("bkp_") }),
    retry: { maxAttempts: 3, backoffMs: 5_000 },
    // The restore and comparison's limit (VERIFY_TIMEOUT_MS): 2 h.
    timeoutMs: 2 * 3_600_000,
    lockedResource: ({ clusterId, databaseName }) => databaseResource(clusterId, databaseName),
    dumpSlot: false,
    // Re-verifying makes no rows; the backup keeps its previous verification.
    onCancel: async () => [],
    onWorkerLost: async () => {},
  },
  restore: {
    // The backup restored; for preview targets the preview (its database is the locked resource).
    payload: z.strictObject({ backupId: z.string().startsWith("bkp_"), previewDatabaseId: nullableString, restoreOptions: RestoreJobOptions }),
    retry: { maxAttempts: 3, backoffMs: 5_000 },
    // pg_restore's limit (RESTORE_TIMEOUT_MS): 6 h.
    timeoutMs: 6 * 3_600_000,
    // The target database: a preview's, or the project's own (never beside a backup of it).
    lockedResource: ({ clusterId, databaseName }) => databaseResource(clusterId, databaseName),
    // Restores count against the cluster's dump/restore slots.
    dumpSlot: true,
    // Its preview stays `creating` until the worker (afterCancel, afterWorkerLost) or the preview
    // sweep has dropped its database and role, and only then becomes `failed`.
    onCancel: async () => [],
    onWorkerLost: async () => {},
  },
};

export function jobKind(type: string): JobKind {
  if (!Object.hasOwn(JOB_KINDS, type)) throw new Error(`unknown job type ${type}`);
  return JOB_KINDS[type as JobType];
}

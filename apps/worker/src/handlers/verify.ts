// The `verify` job: re-verifies an existing backup (its job row names it in backup_id) against the
// source inventory recorded when it was dumped: the artifact is read back and checksummed,
// restored into a throwaway database and compared. The backup ends `verified` or `failed`.
import type { Db, Job } from "@capy/db";
import { type Attempt, setPhase } from "@capy/jobs";
import { ConfigurationError } from "../failures/errors.js";
import type { WorkerMetrics } from "../metrics.js";
import { Inventory } from "../postgres/inventory.js";
import type { Verifier } from "../verify/verifier.js";
import { type AttemptContext, type LeaseSettings, recordFailure, runClaimed } from "./claimed.js";
import type { JobRuntime } from "./handler.js";
import { verifyAndComplete } from "./verification.js";

export interface VerifyDependencies {
  db: Db;
  workerId: string;
  heartbeatIntervalMs: number;
  /** The database lock and dump slots (see claimed.ts). */
  leases?: LeaseSettings | undefined;
  verifier: Verifier;
  metrics?: WorkerMetrics;
}

export function createVerifyRuntime(deps: VerifyDependencies): JobRuntime {
  // A re-verification stores nothing: nothing to remove after a cancel or a lost attempt.
  const hooks = { afterCancel: async () => {}, afterWorkerLost: async () => {} };
  return {
    ...hooks,
    handler: (context) => runClaimed(deps, context, "verify", (job, attempt, attemptContext) => runAttempt(deps, job, attempt, attemptContext), hooks),
  };
}

async function runAttempt(deps: VerifyDependencies, job: Job, attempt: Attempt, context: AttemptContext): Promise<void> {
  const backup = job.backupId ? await deps.db.backup.findFirst({ where: { id: job.backupId, projectId: job.projectId } }) : null;
  if (!backup) {
    const problem = job.backupId ? `backup ${job.backupId} does not exist in project ${job.projectId}` : "verify job names no backup";
    await recordFailure(deps.db, attempt, new ConfigurationError(problem), [], context);
    return;
  }
  if (backup.state !== "completed") {
    await recordFailure(deps.db, attempt, new ConfigurationError(`backup ${backup.id} has no artifact to verify (state: ${backup.state})`), [], context);
    return;
  }
  const reference = Inventory.safeParse(backup.sourceInventory);
  if (!reference.success) {
    // A backup taken before inventories existed cannot be compared; its state is left as it is.
    await recordFailure(deps.db, attempt, new ConfigurationError(`backup ${backup.id} has no source inventory to verify against`), [], context);
    return;
  }
  context.log.info({ backup_id: backup.id }, "re-verifying backup");
  // A lost job is noticed (and nothing recorded) by verifyAndComplete's own fenced writes.
  await setPhase(deps.db, attempt, "verifying");
  await verifyAndComplete(deps, job, attempt, backup, reference.data, context, { announce: false });
}

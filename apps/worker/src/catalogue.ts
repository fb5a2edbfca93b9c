// The job catalogue this worker runs: every kind of @capy/jobs' catalogue (payload schema, retry
// policy, timeout, locked resource, row hooks) completed with its handler and the storage side of
// its hooks. One entry per JobType: a kind without a handler or hooks does not compile. The
// worker dispatches through it (worker.ts), and claimed.ts runs the hooks; nothing else looks at
// a job's type.
import type { JobType } from "@capy/contracts";
import { JOB_KINDS, type JobKind } from "@capy/jobs";
import {
  type BackupDependencies,
  createBackupRuntime,
  createRestoreRuntime,
  createVerifyRuntime,
  type JobRuntime,
  type RestoreDependencies,
} from "./handlers/index.js";

export type CatalogueEntry = JobKind & JobRuntime;
export type WorkerCatalogue = { readonly [Type in JobType]: CatalogueEntry };

export type CatalogueDependencies = BackupDependencies & RestoreDependencies;

export function createCatalogue(deps: CatalogueDependencies): WorkerCatalogue {
  return {
    backup: { ...JOB_KINDS.backup, ...createBackupRuntime(deps) },
    verify: { ...JOB_KINDS.verify, ...createVerifyRuntime(deps) },
    restore: { ...JOB_KINDS.restore, ...createRestoreRuntime(deps) },
  };
}

/** The entry for a BullMQ job name, or undefined for a type this worker does not know. */
export function entryFor(catalogue: WorkerCatalogue, type: string): CatalogueEntry | undefined {
  return Object.hasOwn(catalogue, type) ? catalogue[type as JobType] : undefined;
}

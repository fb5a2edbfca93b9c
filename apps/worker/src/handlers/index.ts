// The handlers this worker registers: `backup` (dump, record, verify), `verify` (re-verify an
// existing backup) and `restore`. Jobs of any other type are failed permanently rather than left pending.
import { createBackupHandler, type BackupDependencies } from "./backup.js";
import type { HandlerTable } from "./handler.js";
import { createRestoreHandler, type RestoreDependencies } from "./restore.js";
import { createVerifyHandler } from "./verify.js";

export type HandlerDependencies = BackupDependencies & Partial<Omit<RestoreDependencies, keyof BackupDependencies>> & { pgRestore?: string };

/** Restores are handled when the worker was given pg_restore (every worker built by main.ts is). */
export function createHandlers(deps: HandlerDependencies): HandlerTable {
  const restore = deps.pgRestore ? createRestoreHandler({ restoreJobs: 1, restoreTimeoutMs: 6 * 3_600_000, ...deps, pgRestore: deps.pgRestore }) : undefined;
  return { backup: createBackupHandler(deps), verify: createVerifyHandler(deps), ...(restore ? { restore } : {}) } satisfies HandlerTable;
}

export { handlerFor, type HandlerTable, type JobContext, type JobHandler } from "./handler.js";

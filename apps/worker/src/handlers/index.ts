// The handlers this worker registers: `backup` (dump, record, verify) and `verify` (re-verify an
// existing backup). Jobs of any other type are failed permanently rather than left pending.
import { createBackupHandler, type BackupDependencies } from "./backup.js";
import type { HandlerTable } from "./handler.js";
import { createVerifyHandler } from "./verify.js";

export type HandlerDependencies = BackupDependencies;

export function createHandlers(deps: HandlerDependencies): HandlerTable {
  return { backup: createBackupHandler(deps), verify: createVerifyHandler(deps) } satisfies HandlerTable;
}

export { handlerFor, type HandlerTable, type JobContext, type JobHandler } from "./handler.js";

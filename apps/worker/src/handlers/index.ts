// The handlers this worker registers. `verify` joins in a later change; until then verify jobs
// are failed permanently rather than left pending.
import { createBackupHandler, type BackupDependencies } from "./backup.js";
import type { HandlerTable } from "./handler.js";

export type HandlerDependencies = BackupDependencies;

export function createHandlers(deps: HandlerDependencies): HandlerTable {
  return { backup: createBackupHandler(deps) } satisfies HandlerTable;
}

export { handlerFor, type HandlerTable, type JobContext, type JobHandler } from "./handler.js";

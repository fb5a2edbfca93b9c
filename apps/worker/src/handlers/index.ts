export { type BackupDependencies, createBackupRuntime } from "./backup.js";
export type { JobContext, JobHandler, JobRuntime } from "./handler.js";
export { createRestoreRuntime, type RestoreDependencies } from "./restore.js";
export { createVerifyRuntime, type VerifyDependencies } from "./verify.js";

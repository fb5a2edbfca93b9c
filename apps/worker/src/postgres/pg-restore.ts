// pg_restore of a custom-format archive (a local file) into a throwaway database: argument array,
// password through a passfile, stopped when the signal aborts (timeout or shutdown).
import { ConfigurationError } from "../failures/errors.js";
import type { ProcessResult, ProcessRunner, ProcessSpec } from "../process/run.js";
import { withPassfile } from "./passfile.js";
import { PG_CONNECT_TIMEOUT_SECONDS, type DumpTarget } from "./pg-dump.js";

export function pgRestoreSpec(pgRestore: string, target: DumpTarget, database: string, archive: string, passfile: string): ProcessSpec {
  if (database.includes("=") || /^postgres(ql)?:\/\//i.test(database)) {
    throw new ConfigurationError(`database name "${database}" would be read as a connection string`);
  }
  return {
    command: pgRestore,
    args: [
      "--exit-on-error",
      "--no-owner",
      "--no-acl",
      "--no-password",
      "-h",
      target.host,
      "-p",
      String(target.port),
      "-U",
      target.user,
      "-d",
      database,
      archive,
    ],
    env: { PGPASSFILE: passfile, PGCONNECT_TIMEOUT: String(PG_CONNECT_TIMEOUT_SECONDS), PGAPPNAME: "capy-backups-verify", LC_ALL: "C" },
  };
}

export interface RestoreRequest {
  runner: ProcessRunner;
  pgRestore: string;
  /** The cluster's admin login (the database field is ignored). */
  admin: DumpTarget;
  database: string;
  archive: string;
  signal: AbortSignal;
}

/** Resolves when pg_restore exited 0; rejects with ProcessExitError/ProcessStartError otherwise. */
export function restoreArchive(request: RestoreRequest): Promise<ProcessResult> {
  return withPassfile(request.admin.user, request.admin.password, (passfile) =>
    request.runner.start(pgRestoreSpec(request.pgRestore, request.admin, request.database, request.archive, passfile), {
      stdout: "tail",
      signal: request.signal,
    }).done,
  );
}

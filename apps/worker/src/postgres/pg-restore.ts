// pg_restore of a custom-format archive (a local file) into a throwaway database: argument array,
// password through a passfile, stopped when the signal aborts (timeout or shutdown).
import type { ProcessResult, ProcessRunner, ProcessSpec } from "../process/run.js";
import { withPassfile } from "./passfile.js";
import { clientToolEnv, connectionArgs } from "./libpq-args.js";
import type { DumpTarget } from "./pg-dump.js";

export function pgRestoreSpec(pgRestore: string, target: DumpTarget, database: string, archive: string, passfile: string): ProcessSpec {
  return {
    command: pgRestore,
    args: ["--exit-on-error", "--no-owner", "--no-acl", ...connectionArgs(target, database), archive],
    env: clientToolEnv(passfile, "capy-backups-verify"),
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

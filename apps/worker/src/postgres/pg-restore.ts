// pg_restore of a custom-format archive (a local file) into a throwaway database: argument array,
// password through a passfile, stopped when the signal aborts (timeout or shutdown). Parallel
// (--jobs) restore reads the file at several places at once; an archive pg_dump streamed has no
// data offsets in its table of contents, which pg_restore 12+ copes with in a seekable file.
import type { ProcessResult, ProcessRunner, ProcessSpec } from "../process/run.js";
import { withPassfile } from "./passfile.js";
import { clientToolEnv, connectionArgs } from "./libpq-args.js";
import type { DumpTarget } from "./pg-dump.js";

export function pgRestoreSpec(pgRestore: string, target: DumpTarget, database: string, archive: string, passfile: string, jobs = 1): ProcessSpec {
  return {
    command: pgRestore,
    args: ["--exit-on-error", "--no-owner", "--no-acl", ...(jobs > 1 ? [`--jobs=${jobs}`] : []), ...connectionArgs(target, database), archive],
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
  /** pg_restore --jobs (1: a single session). */
  jobs?: number;
  signal: AbortSignal;
}

/** Resolves when pg_restore exited 0; rejects with ProcessExitError/ProcessStartError otherwise. */
export function restoreArchive(request: RestoreRequest): Promise<ProcessResult> {
  return withPassfile(request.admin.user, request.admin.password, (passfile) =>
    request.runner.start(pgRestoreSpec(request.pgRestore, request.admin, request.database, request.archive, passfile, request.jobs), {
      stdout: "tail",
      signal: request.signal,
    }).done,
  );
}

// pg_restore of a custom-format archive: argument array, password through a passfile, stopped
// when the signal aborts (timeout, cancel or shutdown). The archive is a local file (needed for
// -j, parallel restore: an archive pg_dump streamed has no data offsets in its table of
// contents until archive-offsets.ts writes them; pg_restore 12+ copes without them in a
// seekable file, slowly) or streamed into its stdin.
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ProcessResult, ProcessRunner, ProcessSpec } from "../process/run.js";
import { clientToolEnv, connectionArgs } from "./libpq-args.js";
import { withPassfile } from "./passfile.js";
import type { DumpTarget } from "./pg-dump.js";

export interface RestoreFlags {
  /** Parallel jobs (`-j`); only with a file archive. */
  jobs?: number;
  /** `--no-owner --no-acl` (everything belongs to the login restoring); default true. */
  noOwner?: boolean;
  /** `-L`: restore only the entries of this TOC list file. */
  listFile?: string;
  /** Shown in pg_stat_activity. */
  applicationName?: string;
}

/** `archive` null: pg_restore reads the archive from its stdin. */
export function pgRestoreSpec(
  pgRestore: string,
  target: DumpTarget,
  database: string,
  archive: string | null,
  passfile: string,
  flags: RestoreFlags = {},
): ProcessSpec {
  const jobs = flags.jobs ?? 1;
  return {
    command: pgRestore,
    args: [
      "--exit-on-error",
      ...(flags.noOwner === false ? [] : ["--no-owner", "--no-acl"]),
      ...(jobs > 1 && archive !== null ? ["-j", String(jobs)] : []),
      ...(flags.listFile ? ["-L", flags.listFile] : []),
      ...connectionArgs(target, database),
      ...(archive === null ? [] : [archive]),
    ],
    env: clientToolEnv(passfile, flags.applicationName ?? "capy-backups-verify"),
  };
}

export interface RestoreRequest {
  runner: ProcessRunner;
  pgRestore: string;
  /** The login that restores (the database field is ignored). */
  admin: DumpTarget;
  database: string;
  /** A local file, or a stream piped into pg_restore's stdin. */
  archive: string | Readable;
  signal: AbortSignal;
  flags?: RestoreFlags;
}

/**
 * Resolves when pg_restore exited 0 (and a streamed archive was read to its end); rejects with
 * ProcessExitError/ProcessStartError otherwise. pg_restore's own failure wins over the broken
 * pipe it causes on our side; the stream's failure (e.g. a checksum mismatch) fails the restore
 * even when pg_restore had already exited 0.
 */
export function restoreArchive(request: RestoreRequest): Promise<ProcessResult> {
  const { archive } = request;
  return withPassfile(request.admin.user, request.admin.password, async (passfile) => {
    const spec = pgRestoreSpec(request.pgRestore, request.admin, request.database, typeof archive === "string" ? archive : null, passfile, request.flags);
    const child = request.runner.start(spec, { stdout: "tail", stdin: typeof archive === "string" ? "ignore" : "pipe", signal: request.signal });
    if (typeof archive === "string") return child.done;
    const feeding = pipeline(archive, child.stdin!);
    const [restored, fed] = await Promise.allSettled([child.done, feeding]);
    if (restored.status === "rejected") throw restored.reason;
    if (fed.status === "rejected") throw fed.reason;
    return restored.value;
  });
}

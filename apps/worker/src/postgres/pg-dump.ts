// One logical backup: pg_dump's custom-format archive streamed from its stdout straight into
// artifact storage. Memory stays flat whatever the database size; storage computes the size
// and SHA-256 on the way through.
import { Transform, pipeline } from "node:stream";
import type { ArtifactStorage, StoredObject } from "@capy/storage";
import { StorageError } from "../failures/errors.js";
import { ProcessStartError, type ProcessRunner, type ProcessSpec } from "../process/run.js";
import { clientToolEnv, connectionArgs } from "./libpq-args.js";
import { withPassfile } from "./passfile.js";

/** Where and as whom to connect. The password is only ever written to the passfile. */
export interface DumpTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  password: string | null;
}


/**
 * pg_dump's argument array and its entire environment. Neither holds the password: libpq reads
 * it from `passfile`, and --no-password makes pg_dump fail rather than prompt if that is wrong.
 */
export function pgDumpSpec(pgDump: string, target: DumpTarget, passfile: string, snapshot?: string): ProcessSpec {
  return {
    command: pgDump,
    args: [
      "-Fc",
      // The snapshot another session exported and keeps open, so the dump sees exactly what
      // that session counts for the backup's source inventory.
      ...(snapshot ? [`--snapshot=${snapshot}`] : []),
      ...connectionArgs(target, target.database),
    ],
    env: clientToolEnv(passfile, "capy-backups"),
  };
}

export interface DumpRequest {
  runner: ProcessRunner;
  /** Absolute path of pg_dump. */
  pgDump: string;
  target: DumpTarget;
  storage: ArtifactStorage;
  /** Storage key of the artifact. On failure the caller deletes it (storage may hold part of it). */
  key: string;
  /** Aborting stops pg_dump. */
  signal: AbortSignal;
  /** A snapshot exported by a transaction the caller holds open until pg_dump exits. */
  snapshot?: string;
  /** Called with the total bytes streamed so far, on every chunk (the caller throttles). */
  onProgress?: (bytes: number) => void;
}

export interface DumpResult {
  stored: StoredObject;
  /** pg_dump's stderr (warnings, or nothing), not yet redacted. */
  stderrTail: string;
}

/**
 * Runs pg_dump into storage. Resolves only when pg_dump exited 0 AND storage has the whole
 * artifact; rejects with ProcessStartError, StorageError or ProcessExitError otherwise.
 */
export async function dumpToStorage(request: DumpRequest): Promise<DumpResult> {
  const { target } = request;
  return withPassfile(target.user, target.password, async (passfile) => {
    const child = request.runner.start(pgDumpSpec(request.pgDump, target, passfile, request.snapshot), { stdout: "stream", signal: request.signal });
    // Counts the archive's bytes on their way to storage; backpressure passes through.
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        request.onProgress?.(bytes);
        callback(null, chunk);
      },
    });
    // Errors of either side reach storage (through `counter`) or are reported by child.done.
    pipeline(child.stdout, counter, () => {});
    const storing = request.storage.put(request.key, counter).catch((error: unknown) => {
      // pg_dump would otherwise block on a pipe nobody reads any more.
      child.stop();
      throw new StorageError(error);
    });
    const [exit, put] = await Promise.allSettled([child.done, storing]);
    // Precedence follows causality: a child that never started breaks the stream; a storage
    // failure stops the child; only then is pg_dump's own exit status the cause.
    if (exit.status === "rejected" && exit.reason instanceof ProcessStartError) throw exit.reason;
    if (put.status === "rejected") throw put.reason;
    if (exit.status === "rejected") throw exit.reason;
    return { stored: put.value, stderrTail: exit.value.stderrTail };
  });
}

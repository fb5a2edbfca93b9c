// One logical backup: pg_dump's custom-format archive streamed from its stdout through the
// artifact's write stages (compression, encryption: @capy/artifact's write plan) into artifact
// storage: with filesystem storage the last process writes the file itself, with S3 its output
// streams through this process into the upload. Memory stays flat whatever the database size;
// storage computes the size and SHA-256 on the way.
import path from "node:path";
import { pipeline, type Readable, Transform, Writable } from "node:stream";
import { pipeline as pipelineAsync } from "node:stream/promises";
import { type ArtifactEncoding, StageFailedError, type WritePlan, type WriteStages } from "@capy/artifact";
import type { ArtifactStorage, StoredObject } from "@capy/storage";
import { StorageError } from "../failures/errors.js";
import { type ProcessResult, type ProcessRunner, type ProcessSpec, ProcessStartError, type RunningProcess } from "../process/run.js";
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
export function pgDumpSpec(pgDump: string, target: DumpTarget, passfile: string, snapshot?: string, compressionArgs: readonly string[] = []): ProcessSpec {
  return {
    command: pgDump,
    args: [
      "-Fc",
      ...compressionArgs,
      // The snapshot another session exported and keeps open, so the dump holds exactly what
      // that session counts (once pg_dump exited) for the backup's source inventory.
      ...(snapshot ? [`--snapshot=${snapshot}`] : []),
      ...connectionArgs(target, target.database),
    ],
    env: clientToolEnv(passfile, "capy-backups"),
  };
}

/**
 * pg_dump's stdout buffer under stdbuf. pg_dump writes its archive through stdio, whose buffer
 * on a pipe is 4 KiB: with -Z0 (zstd around the archive) that is ~290,000 writes per 1.2 GB, each
 * waking the reader. 1 MiB cut pg_dump's and zstd's system time by ~1.2 CPU-s per 1.2 GB on the
 * reference database (of ~11 CPU-s for the whole dump, on two cores: bench/backup-overhead).
 */
export const PG_DUMP_STDOUT_BUFFER = "1M";

/**
 * `spec` run through coreutils' `stdbuf -o 1M` (it execs pg_dump with a larger stdout buffer;
 * same process, same exit status), named pg_dump in errors; `spec` itself without stdbuf.
 */
export function withStdoutBuffer(spec: ProcessSpec, stdbuf: string | null | undefined): ProcessSpec {
  if (!stdbuf) return spec;
  return { ...spec, command: stdbuf, args: ["-o", PG_DUMP_STDOUT_BUFFER, spec.command, ...spec.args], name: spec.name ?? path.basename(spec.command) };
}

export interface DumpRequest {
  runner: ProcessRunner;
  /** Absolute path of pg_dump. */
  pgDump: string;
  /** Absolute path of stdbuf (coreutils), when the machine has it: see PG_DUMP_STDOUT_BUFFER. */
  stdbuf?: string | null;
  target: DumpTarget;
  /** How the archive is compressed (BACKUP_COMPRESSION) and encrypted (BACKUP_ENCRYPTION) on its way to storage. */
  plan: WritePlan;
  /** The age recipients of this artifact, when the plan encrypts (platform key first). */
  recipients?: readonly string[];
  storage: ArtifactStorage;
  /** Storage key of the artifact. On failure the caller deletes it (storage may hold part of it). */
  key: string;
  /** Aborting stops pg_dump. */
  signal: AbortSignal;
  /** A snapshot exported by a transaction the caller holds open until pg_dump exits. */
  snapshot?: string;
  /** Called with the total bytes stored so far, on every chunk (the caller throttles). */
  onProgress?: (bytes: number) => void;
}

export interface DumpResult {
  stored: StoredObject;
  /** pg_dump's stderr (warnings, or nothing), not yet redacted. */
  stderrTail: string;
  /** What the backup row records about the stored bytes. */
  encoding: ArtifactEncoding;
  /** Bytes of the archive pg_dump wrote (before compression around it), when known. */
  archiveSizeBytes: number | null;
}

/**
 * Runs pg_dump into storage through the plan's stages. Resolves only when pg_dump and every
 * stage exited 0 AND storage has the whole artifact; rejects with ProcessStartError,
 * StageFailedError (e.g. zstd or age killed), StorageError or ProcessExitError otherwise.
 * Storage that keeps local files (putWritten) gets the artifact written by the pipeline's last
 * process itself; other storage (S3) reads it from that process's stdout through this one.
 */
export async function dumpToStorage(request: DumpRequest): Promise<DumpResult> {
  const { target, plan } = request;
  return withPassfile(target.user, target.password, async (passfile) => {
    const spec = withStdoutBuffer(pgDumpSpec(request.pgDump, target, passfile, request.snapshot, plan.pgDumpArgs), request.stdbuf);
    const { stored, exit, write } = request.storage.putWritten ? await dumpIntoFile(request, spec) : await dumpThroughThisProcess(request, spec);
    return { stored, stderrTail: exit.stderrTail, encoding: plan.encoding, archiveSizeBytes: write.archiveSizeBytes(stored.sizeBytes) };
  });
}

interface Dumped {
  stored: StoredObject;
  exit: ProcessResult;
  write: WriteStages;
}

/** pg_dump, started into the plan's first stage, or else into `output`, or else its own stdout. */
function startDump(request: DumpRequest, spec: ProcessSpec, output?: number): { child: RunningProcess; write: WriteStages } {
  const write = request.plan.start(request.recipients, output);
  const into = write.direct ? write.direct.directInput() : output;
  try {
    return { child: request.runner.start(spec, { stdout: into === undefined ? "stream" : { into }, signal: request.signal }), write };
  } finally {
    write.direct?.releaseDirectInput();
  }
}

/**
 * The failure to report, following causality: a child that never started breaks the stream; a
 * stage that failed on its own (zstd killed) breaks storage and pg_dump's pipe; a storage failure
 * stops the children; only then is pg_dump's own exit status the cause. pg_dump's result if none.
 */
function firstCause(exit: PromiseSettledResult<ProcessResult>, stageFailure: unknown, storing?: PromiseSettledResult<unknown>): ProcessResult {
  if (exit.status === "rejected" && exit.reason instanceof ProcessStartError) throw exit.reason;
  if (stageFailure) throw stageFailure;
  if (storing?.status === "rejected") throw storing.reason;
  if (exit.status === "rejected") throw exit.reason;
  return exit.value;
}

/** storage.put reading the last stage's output (or pg_dump's) as this process receives it. */
async function dumpThroughThisProcess(request: DumpRequest, spec: ProcessSpec): Promise<Dumped> {
  const { child, write } = startDump(request, spec);
  const { body, failure } = streamStages(child, write, request.onProgress);
  const storing = request.storage.put(request.key, body).catch((error: unknown) => {
    // pg_dump would otherwise block on a pipe nobody reads any more.
    child.stop();
    throw new StorageError(error);
  });
  const [exit, put] = await Promise.allSettled([child.done, storing]);
  return { exit: firstCause(exit, failure(), put), stored: (put as PromiseFulfilledResult<StoredObject>).value, write };
}

/**
 * storage.putWritten: the last stage's child (or pg_dump) writes the file storage gives it.
 * On the reference database the backup took 1.03 x the extraction limit instead of 1.09 (README).
 */
async function dumpIntoFile(request: DumpRequest, spec: ProcessSpec): Promise<Dumped> {
  let dumped: { exit: ProcessResult; write: WriteStages } | undefined;
  let dumpFailure: unknown;
  const runInto = async (fd: number, stop: AbortSignal) => {
    try {
      const { child, write } = startDump(request, spec, fd);
      // Storage failed: pg_dump stops, the stages see their input end.
      stop.addEventListener("abort", () => child.stop(), { once: true });
      const [exit, stages] = await Promise.allSettled([child.done, stagesEnded(write, child)]);
      dumped = { exit: firstCause(exit, stages.status === "rejected" ? stages.reason : undefined), write };
    } catch (error) {
      dumpFailure = error;
      throw error;
    }
  };
  try {
    const stored = await request.storage.putWritten!(request.key, runInto, request.onProgress);
    return { stored, ...dumped! };
  } catch (error) {
    // putWritten passes the writer's own failure on unchanged; anything else is storage's.
    if (error === dumpFailure) throw error;
    throw new StorageError(error);
  }
}

/**
 * Settles once every stage's child exited (their readable sides carry no data: the last one
 * writes into storage's file); rejects with the first stage's failure, and then stops pg_dump.
 */
async function stagesEnded(write: WriteStages, child: RunningProcess): Promise<void> {
  if (write.stages.length === 0) return;
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await pipelineAsync([...write.stages, discard]).catch((error: unknown) => {
    child.stop();
    throw error;
  });
}

/**
 * pg_dump's output (its stdout, or the direct stage it writes into) through the stages and a byte
 * counter: the stream storage reads, and the stage failure that broke it, if any.
 */
function streamStages(
  child: RunningProcess,
  write: WriteStages,
  onProgress?: (bytes: number) => void,
): { body: Readable; failure: () => StageFailedError | undefined } {
  let bytes = 0;
  // Counts the stored bytes on their way to storage; backpressure passes through.
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      onProgress?.(bytes);
      callback(null, chunk);
    },
  });
  let failure: StageFailedError | undefined;
  const source: Readable = write.direct ?? child.stdout;
  const stages = write.direct ? write.stages.slice(1) : write.stages;
  // Errors reach storage (through `counter`); pg_dump's own are reported by child.done.
  pipeline([source, ...stages, counter], (error) => {
    if (error instanceof StageFailedError) {
      failure = error;
      child.stop();
    }
  });
  return { body: counter, failure: () => failure };
}

/**
 * How a dump's stored bytes are encoded, as its backup row records it for every reader;
 * `encryptionKeyId`: the platform key an encrypted dump was encrypted to.
 */
export function encodingColumns({ encoding, archiveSizeBytes }: DumpResult, encryptionKeyId: string | null) {
  return {
    encryption: encoding.encryption,
    encryptionKeyId: encoding.encryption === null ? null : encryptionKeyId,
    compression: encoding.compression,
    compressionLevel: encoding.compressionLevel,
    archiveFormat: encoding.archiveFormat,
    storedEncoding: encoding.storedEncoding,
    archiveSizeBytes: archiveSizeBytes === null ? null : BigInt(archiveSizeBytes),
  };
}

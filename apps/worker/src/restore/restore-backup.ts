// Restoring one backup's artifact into one database. With one job and every table, the artifact
// streams straight into pg_restore's stdin (nothing on disk, memory flat). Parallel restore
// (`-j`, RESTORE_JOBS > 1) and a table selection need a seekable archive: the artifact then
// streams into a 0600 file in a private temporary directory first, removed afterwards, and gets
// the data offsets pg_dump could not write into a pipe (archive-offsets.ts), so that pg_restore
// -j seeks to each table's data instead of searching for it.
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { StageFailedError } from "@capy/artifact";
import type { ArtifactStorage } from "@capy/storage";
import type { Logger } from "../logger.js";
import { addDataOffsets } from "../postgres/archive-offsets.js";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { restoreArchive } from "../postgres/pg-restore.js";
import type { ProcessRunner } from "../process/run.js";
import { type ArtifactReading, type ArtifactRef, decodingFailure, type OnBytes, openRestoreStream } from "./artifact.js";
import { selectTables } from "./toc.js";

export interface RestoreTools {
  storage: ArtifactStorage;
  runner: ProcessRunner;
  /** Absolute path of pg_restore. */
  pgRestore: string;
  /** pg_restore -j (RESTORE_JOBS). */
  jobs: number;
  /** Absolute path of zstd (zstd artifacts are decompressed on the way). */
  zstd: string | null;
  /** age and the key lookup: encrypted artifacts are decrypted on the way. */
  decrypt?: Omit<ArtifactReading, "zstd">;
}

export interface RestoreInto {
  backup: ArtifactRef;
  /** The login pg_restore connects as; with noOwner, everything restored belongs to it. */
  login: DumpTarget;
  database: string;
  /** `schema.table` names; null for everything. */
  tables: readonly string[] | null;
  noOwner: boolean;
  signal: AbortSignal;
  onBytes?: OnBytes;
  log: Logger;
}

/**
 * Resolves with pg_restore's stderr (not yet redacted) once the whole archive is restored. An
 * artifact that does not decrypt or decompress fails it with what that means (decodingFailure).
 */
export async function restoreBackup(tools: RestoreTools, request: RestoreInto): Promise<string> {
  try {
    return await restoreDecoded(tools, request);
  } catch (error) {
    if (error instanceof StageFailedError && error.exitCode !== null) throw await decodingFailure(tools.storage, request.backup, error);
    throw error;
  }
}

async function restoreDecoded(tools: RestoreTools, request: RestoreInto): Promise<string> {
  const flags = { noOwner: request.noOwner, applicationName: "capy-backups-restore" };
  if (tools.jobs <= 1 && request.tables === null) {
    const archive = await openRestoreStream(tools.storage, request.backup, { zstd: tools.zstd, ...tools.decrypt }, request.onBytes);
    const result = await restoreArchive({ ...tools, admin: request.login, database: request.database, archive, signal: request.signal, flags });
    return result.stderrTail;
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-restore-"));
  try {
    const file = path.join(dir, "artifact.dump");
    await pipeline(
      await openRestoreStream(tools.storage, request.backup, { zstd: tools.zstd, ...tools.decrypt }, request.onBytes),
      createWriteStream(file, { mode: 0o600 }),
      {
        signal: request.signal,
      },
    );
    await addDataOffsets(file, request.log);
    let listFile: string | undefined;
    if (request.tables !== null) {
      listFile = path.join(dir, "selection.list");
      await writeFile(listFile, selectTables(await listArchive(tools, file, request.signal), request.tables), { mode: 0o600 });
    }
    const result = await restoreArchive({
      ...tools,
      admin: request.login,
      database: request.database,
      archive: file,
      signal: request.signal,
      flags: { ...flags, jobs: tools.jobs, listFile },
    });
    return result.stderrTail;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `pg_restore -l`: the archive's table of contents (no connection needed). */
async function listArchive(tools: RestoreTools, file: string, signal: AbortSignal): Promise<string> {
  const child = tools.runner.start({ command: tools.pgRestore, args: ["-l", file], env: { LC_ALL: "C" } }, { stdout: "stream", signal });
  const chunks: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  await child.done;
  return Buffer.concat(chunks).toString("utf8");
}

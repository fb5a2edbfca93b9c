// Proving a backup by restoring it. The artifact is read back from storage through the one
// artifact reader (@capy/artifact: SHA-256 checked against the recorded one, decompressed when
// stored compressed, straight into a temporary file), while a throwaway database is created on
// the same cluster (by the cluster's registered operator login from VERIFY_TEMPLATE_DATABASE, or
// on VERIFY_DATABASE_URL's server when set; with settings that make a throwaway restore cheap);
// the file is restored with parallel pg_restore, and the restored copy's inventory is compared
// with the source's. The throwaway database is always dropped, after the verdict is recorded
// (see Cleanups). At most VERIFY_CONCURRENCY verifications run per cluster at once (a Redis
// lease semaphore shared by every worker), each holding its slot until its database is dropped.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { StageFailedError, type StoredArtifact } from "@capy/artifact";
import { type Db, type Keyring, quoteIdent } from "@capy/db";
import type { LeaseSemaphore } from "@capy/queue";
import type { ArtifactStorage } from "@capy/storage";
import { ShutdownInterruptError, StorageError, VerificationFailedError, VerificationTimeoutError } from "../failures/errors.js";
import type { Logger } from "../logger.js";
import { addDataOffsets } from "../postgres/archive-offsets.js";
import { collectInventory, compareInventories, describeDifferences, type Inventory } from "../postgres/inventory.js";
import type { DumpTarget } from "../postgres/pg-dump.js";
import { restoreArchive } from "../postgres/pg-restore.js";
import { connectTo } from "../postgres/session.js";
import { loadClusterAdmin } from "../postgres/target.js";
import { ProcessExitError, type ProcessRunner } from "../process/run.js";
import { type ArtifactReading, decodingFailure, openRestoreFile } from "../restore/artifact.js";
import type { Cleanups } from "./cleanups.js";

export interface VerifyConfig {
  /** Kills pg_restore (and bounds the inventory of the restored copy) after this long (ms). */
  timeoutMs: number;
  /** The template throwaway databases are created from. */
  templateDatabase: string;
  /** Verifications at once per cluster, across all workers. */
  concurrency: number;
  /** Throwaway databases are named `<prefix>_<epoch ms>_<random hex>`. */
  databasePrefix: string;
  /** pg_restore --jobs: tables and indexes restored at once (VERIFY_RESTORE_JOBS). */
  restoreJobs: number;
}

export interface VerifierDependencies {
  db: Db;
  storage: ArtifactStorage;
  runner: ProcessRunner;
  /** Absolute path of pg_restore. */
  pgRestore: string;
  /** Absolute path of zstd, for artifacts stored zstd-compressed. */
  zstd: string | null;
  /** age and the key lookup, for artifacts stored encrypted. */
  decrypt?: Omit<ArtifactReading, "zstd">;
  semaphore: LeaseSemaphore;
  workerId: string;
  keyring: Keyring | undefined;
  config: VerifyConfig;
  /** VERIFY_DATABASE_URL's operator login: throwaway databases go there instead of the backup's cluster. */
  verifyServer?: DumpTarget | undefined;
}

export interface VerifyRequest {
  /** The job doing the verification (holder of the concurrency lease). */
  jobId: string;
  clusterId: string;
  /** The backup row: where its artifact is, what it must hash to, how it is encoded. */
  artifact: StoredArtifact;
  /** What the restored copy must hold (a backup job's own is still being counted while it restores). */
  reference: Inventory | Promise<Inventory>;
  /** Shutdown or a lost attempt. */
  signal: AbortSignal;
  log: Logger;
  /**
   * Where the verification defers what must be undone (drop the throwaway database, remove the
   * temporary archive, release the slot): the caller runs it once the verdict is recorded,
   * whatever the outcome.
   */
  cleanups: Cleanups;
}

export interface VerifyResult {
  database: string;
  /** Bytes of the decoded archive (recorded on the row: what a default download delivers). */
  sizeBytes: number;
  restoreMs: number;
  totalMs: number;
  pgRestoreStderr: string;
}

/**
 * Session settings of every connection into a throwaway database, which is dropped right after
 * its check, so nothing in it needs to survive a crash (measured effects: README, Benchmarks):
 * - synchronous_commit off: a commit does not wait for its WAL flush;
 * - maintenance_work_mem 256MB (default 64MB): index builds sort in memory rather than on disk;
 *   at most `restoreJobs` of them run at once.
 */
export const THROWAWAY_SETTINGS: Readonly<Record<string, string>> = { synchronous_commit: "off", maintenance_work_mem: "256MB" };

/** A lease is renewed this often; it lapses LEASE_MS after its holder stops renewing (ms). */
const LEASE_MS = 30_000;
const LEASE_RENEW_MS = 10_000;
const LEASE_POLL_MS = 500;

/** pg_restore failures that say nothing about the artifact: the next attempt may succeed. */
const TRANSIENT_RESTORE = [
  /could not connect to server|connection to server .* failed/i,
  /connection refused/i,
  /server closed the connection unexpectedly/i,
  /terminating connection/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /too many clients|remaining connection slots/i,
  /timeout expired/i,
  /out of memory|could not extend file|no space left on device/i,
];

export function throwawayDatabaseName(prefix: string, now = Date.now()): string {
  return `${prefix}_${now}_${randomBytes(4).toString("hex")}`;
}

/** The creation time embedded in a throwaway database's name, or null when it is not one. */
export function throwawayCreatedAt(prefix: string, name: string): number | null {
  if (!name.startsWith(`${prefix}_`)) return null;
  const match = /^(\d{13})_[0-9a-f]{8}$/.exec(name.slice(prefix.length + 1));
  return match ? Number(match[1]) : null;
}

export class Verifier {
  constructor(private readonly deps: VerifierDependencies) {}

  get config(): VerifyConfig {
    return this.deps.config;
  }

  /**
   * Resolves when the backup is proven; rejects with VerificationFailedError when it is not.
   * What is left to undo (the throwaway database, the temporary archive, the slot) is deferred
   * to `request.cleanups`, for the caller to run once it recorded the verdict.
   */
  async verify(request: VerifyRequest): Promise<VerifyResult> {
    const started = Date.now();
    const { cleanups } = request;
    cleanups.defer("release the verification slot", await this.acquireSlot(request));
    const workDir = await mkdtemp(path.join(os.tmpdir(), "capy-verify-"));
    cleanups.defer("remove the temporary archive", () => rm(workDir, { recursive: true, force: true }));
    const archive = path.join(workDir, "artifact.dump");
    const { admin, database, sizeBytes } = await this.prepare(request, archive);
    const restoreStarted = Date.now();
    const timeout = AbortSignal.timeout(this.deps.config.timeoutMs);
    const stderr = await this.restore(request, admin, database, archive, AbortSignal.any([request.signal, timeout]), timeout);
    const restoreMs = Date.now() - restoreStarted;
    const remainingMs = this.deps.config.timeoutMs - (Date.now() - restoreStarted);
    if (remainingMs <= 0) throw new VerificationTimeoutError(this.deps.config.timeoutMs);
    const inventoryStarted = Date.now();
    const restored = await this.inventoryOf(admin, database, remainingMs);
    request.log.info({ restore_ms: restoreMs, inventory_ms: Date.now() - inventoryStarted }, "restored copy counted");
    const differences = compareInventories(await request.reference, restored);
    if (differences.length > 0) throw new VerificationFailedError(describeDifferences(differences));
    return { database, sizeBytes, restoreMs, totalMs: Date.now() - started, pgRestoreStderr: stderr };
  }

  /**
   * Reads the archive into `archive` while the throwaway database is created beside it (the read
   * is mostly one zstd thread: the other core is free). A failed creation stops the read; a read
   * that proves the artifact bad (or a shutdown) is what is reported even then.
   */
  private async prepare(request: VerifyRequest, archive: string): Promise<{ admin: DumpTarget; database: string; sizeBytes: number }> {
    const stopFetch = new AbortController();
    const fetchStarted = Date.now();
    let fetchMs = 0;
    const fetching = this.fetchArchive(request, archive, AbortSignal.any([request.signal, stopFetch.signal])).then((sizeBytes) => {
      fetchMs = Date.now() - fetchStarted;
      return sizeBytes;
    });
    const creating = this.createThrowaway(request);
    creating.catch(() => stopFetch.abort());
    const [fetched, created] = await Promise.allSettled([fetching, creating]);
    const verdict = (error: unknown) => error instanceof VerificationFailedError || error instanceof ShutdownInterruptError;
    if (fetched.status === "rejected" && verdict(fetched.reason)) throw fetched.reason;
    if (created.status === "rejected") throw created.reason;
    if (fetched.status === "rejected") throw fetched.reason;
    const { admin, database, createMs } = created.value;
    // Phases in ms, for bench/backup-overhead: read back + decode into the file, CREATE DATABASE (concurrent).
    request.log.info({ database, size_bytes: fetched.value, fetch_ms: fetchMs, create_ms: createMs }, "restoring into a throwaway database");
    return { admin, database, sizeBytes: fetched.value };
  }

  /** pg_restore -j of the file into `database`; resolves with its stderr. */
  private async restore(
    request: VerifyRequest,
    admin: DumpTarget,
    database: string,
    archive: string,
    stop: AbortSignal,
    timeout: AbortSignal,
  ): Promise<string> {
    try {
      const flags = { jobs: this.deps.config.restoreJobs };
      return (await restoreArchive({ runner: this.deps.runner, pgRestore: this.deps.pgRestore, admin, database, archive, flags, signal: stop })).stderrTail;
    } catch (error) {
      if (request.signal.aborted) throw new ShutdownInterruptError();
      if (timeout.aborted) throw new VerificationTimeoutError(this.deps.config.timeoutMs);
      if (error instanceof ProcessExitError && !TRANSIENT_RESTORE.some((pattern) => pattern.test(error.stderrTail))) {
        throw new VerificationFailedError("artifact does not restore: pg_restore failed", { cause: error });
      }
      throw error;
    }
  }

  /**
   * Waits for one of the cluster's verification slots and keeps its lease renewed; the returned
   * function gives it back.
   */
  private async acquireSlot(request: VerifyRequest): Promise<() => Promise<void>> {
    const { semaphore, workerId, config } = this.deps;
    const resource = `verify:${request.clusterId}`;
    const holder = `${workerId}/${request.jobId}`;
    let waitedLogged = false;
    while (!(await semaphore.acquire(resource, holder, config.concurrency, LEASE_MS))) {
      if (request.signal.aborted) throw new ShutdownInterruptError();
      if (!waitedLogged) {
        request.log.info({ concurrency: config.concurrency }, "waiting for a verification slot on the cluster");
        waitedLogged = true;
      }
      await new Promise((resolve) => setTimeout(resolve, LEASE_POLL_MS));
    }
    const renew = setInterval(() => {
      semaphore
        .acquire(resource, holder, config.concurrency, LEASE_MS)
        .catch((error: unknown) => request.log.warn({ err: error }, "could not renew the verification lease"));
    }, LEASE_RENEW_MS);
    renew.unref();
    return async () => {
      clearInterval(renew);
      await semaphore.release(resource, holder).catch((error: unknown) => request.log.warn({ err: error }, "could not release the verification lease"));
    };
  }

  /**
   * Writes the artifact, decoded into a pg_restore archive, to `file` (a seekable file lets
   * pg_restore -j find each table's data): the reader's last stage writes it (zstd -d -o), the
   * decoded bytes never pass through this process; then its table of contents gets the data
   * offsets. Rejects unless the stored bytes are exactly the recorded ones and decode. Returns
   * the archive's bytes.
   */
  private async fetchArchive(request: VerifyRequest, file: string, signal: AbortSignal): Promise<number> {
    const { artifact } = request;
    try {
      // The same reader restores use: a missing object or a checksum mismatch is a VerificationFailedError.
      await pipeline(
        await openRestoreFile(this.deps.storage, artifact, { zstd: this.deps.zstd, ...this.deps.decrypt }, file),
        new Writable({ write: (_chunk, _encoding, done) => done() }),
        {
          signal,
        },
      );
    } catch (error) {
      if (request.signal.aborted) throw new ShutdownInterruptError();
      if (error instanceof VerificationFailedError) throw error;
      // age or zstd exiting non-zero: the bytes do not decode (a killed one says nothing about
      // them), because they changed since they were stored (the checksum says so), or not.
      if (error instanceof StageFailedError && error.exitCode !== null) throw await decodingFailure(this.deps.storage, artifact, error);
      throw error instanceof StageFailedError ? error : new StorageError(error);
    }
    // pg_dump wrote the archive into a pipe: without data offsets each pg_restore -j worker
    // would search the data section for its table (archive-offsets.ts).
    await addDataOffsets(file, request.log);
    return (await stat(file)).size;
  }

  /**
   * Creates the throwaway database as the cluster's admin (or VERIFY_DATABASE_URL's), its drop
   * deferred first: a CREATE whose reply was lost is dropped too.
   */
  private async createThrowaway(request: VerifyRequest): Promise<{ admin: DumpTarget; database: string; createMs: number }> {
    const admin = this.deps.verifyServer ?? (await loadClusterAdmin(this.deps.db, request.clusterId, this.deps.keyring));
    const database = throwawayDatabaseName(this.deps.config.databasePrefix);
    request.cleanups.defer("drop the throwaway database", () => this.dropDatabase(admin, database, request.log));
    const started = Date.now();
    await this.createDatabase(admin, database);
    return { admin, database, createMs: Date.now() - started };
  }

  private async createDatabase(admin: DumpTarget, database: string): Promise<void> {
    try {
      const client = await connectTo(admin);
      try {
        // WAL_LOG (PostgreSQL 15's default, spelled out): copies the small template through WAL
        // rather than FILE_COPY's two checkpoints of the whole, shared cluster.
        await client.query(`CREATE DATABASE ${quoteIdent(database)} TEMPLATE ${quoteIdent(this.deps.config.templateDatabase)} STRATEGY = WAL_LOG`);
        // Every session pg_restore -j opens into it gets these (see THROWAWAY_SETTINGS).
        for (const [name, value] of Object.entries(THROWAWAY_SETTINGS)) await client.query(`ALTER DATABASE ${quoteIdent(database)} SET ${name} = '${value}'`);
      } finally {
        await client.end().catch(() => {});
      }
    } catch (error) {
      // Named so that a failure of the cluster's admin login is not mistaken for the project's.
      throw new Error(`could not create a throwaway database as the cluster admin: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
  }

  private async inventoryOf(admin: DumpTarget, database: string, timeoutMs: number): Promise<Inventory> {
    const client = await connectTo(admin, database);
    try {
      await client.query(`SET statement_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      const inventory = await collectInventory(client);
      await client.query("COMMIT");
      return inventory;
    } catch (error) {
      if ((error as { code?: string }).code === "57014") throw new VerificationTimeoutError(this.deps.config.timeoutMs);
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** Drops the throwaway database, whoever is still connected; failures are left to the janitor. */
  private async dropDatabase(admin: DumpTarget, database: string, log: Logger): Promise<void> {
    try {
      const started = Date.now();
      await dropThrowaway(admin, database);
      log.info({ database, drop_ms: Date.now() - started }, "dropped the throwaway database");
    } catch (error) {
      log.error({ err: error, database }, "could not drop the throwaway database; the janitor will");
    }
  }
}

/**
 * Longest a DROP of a throwaway database may take (ms). DROP DATABASE waits for every backend on
 * the server to absorb a signal barrier; one stuck backend (e.g. a pg_dump whose reader is
 * paused) would otherwise hold this job, and its verification slot, forever. A drop that times
 * out fails the verification's cleanup only; the janitor drops the database later.
 */
export const DROP_TIMEOUT_MS = 60_000;

export async function dropThrowaway(admin: DumpTarget, database: string): Promise<void> {
  const client = await connectTo(admin);
  try {
    await client.query(`SET statement_timeout = ${DROP_TIMEOUT_MS}`);
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  } finally {
    await client.end().catch(() => {});
  }
}

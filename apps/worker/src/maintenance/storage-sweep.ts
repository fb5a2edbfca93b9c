// Recovery sweep of artifact storage: removes what writers that died mid-upload left behind
// (and, given the database, finished artifacts nothing refers to: orphan-artifacts.ts).
// A put never makes a partial artifact visible, but a worker killed during one (SIGKILL, OOM,
// host loss) cannot clean up after itself: on S3 an incomplete multipart upload remains (its parts
// are invisible but billed), on the filesystem a `<key>.<pid>.<uuid>.partial` temporary file.
// Every worker runs the sweep for its backend once at start and then every `intervalMs`.
//
// Only leftovers at least `minAgeMs` old are removed. Other workers' uploads are live and must be
// spared, and an S3 upload's age counts from its start, so `minAgeMs` (STORAGE_SWEEP_MIN_AGE_MS,
// default 6 h) must exceed the longest an upload can take. Several workers sweeping at once is
// harmless: aborting an upload that another sweep aborted first is not an error, nor is removing a
// file that is gone.

import type { Db } from "@capy/db";
import { type ArtifactStorage, FilesystemStorage, S3Storage } from "@capy/storage";
import type { Logger } from "../logger.js";
import { sweepOrphanArtifacts } from "./orphan-artifacts.js";
import { type Periodic, runPeriodically } from "./periodic.js";

export type SweptBackend = "s3" | "filesystem";

export interface StorageSweepResult {
  backend: SweptBackend;
  /** S3: the keys of the aborted uploads; filesystem: the removed temporary files (relative paths). */
  removed: string[];
}

/**
 * One sweep: aborts incomplete S3 multipart uploads, or removes stale `.partial` files, that are
 * at least `minAgeMs` old. `undefined` for a backend with nothing to sweep.
 */
export async function sweepStorageOnce(storage: ArtifactStorage, minAgeMs: number, now: Date = new Date()): Promise<StorageSweepResult | undefined> {
  if (storage instanceof S3Storage) {
    const aborted = await storage.abortIncompleteUploads(minAgeMs, { now });
    return { backend: "s3", removed: aborted.map((upload) => upload.key) };
  }
  if (storage instanceof FilesystemStorage) {
    const removed = await storage.sweepPartials(minAgeMs, { now });
    return { backend: "filesystem", removed: removed.map((partial) => partial.path) };
  }
  return undefined;
}

export interface StorageSweepOptions {
  storage: ArtifactStorage;
  /** Between sweeps, ms (STORAGE_SWEEP_INTERVAL_MS). */
  intervalMs: number;
  /** Only leftovers at least this old are removed, ms (STORAGE_SWEEP_MIN_AGE_MS). */
  minAgeMs: number;
  log: Logger;
  /** With the metadata database, each sweep also removes orphan artifacts (see orphan-artifacts.ts). */
  db?: Db;
}

export type StorageSweep = Periodic;

/**
 * Sweeps now and then every `intervalMs` until stopped. Sweeps never overlap; a failed sweep (store
 * unreachable, permissions) is logged and retried at the next interval, it never stops the worker.
 * The timer does not keep the process alive.
 */
export function startStorageSweep(options: StorageSweepOptions): StorageSweep {
  const { storage, intervalMs, minAgeMs } = options;
  const log = options.log.child({ component: "storage-sweep" });

  const sweep = async (): Promise<void> => {
    const startedAt = Date.now();
    try {
      if (options.db) {
        const orphans = await sweepOrphanArtifacts(options.db, storage);
        if (orphans.length > 0) log.warn({ removed_count: orphans.length, removed: orphans.slice(0, 100) }, "removed orphan artifacts");
      }
      const result = await sweepStorageOnce(storage, minAgeMs);
      if (!result) return;
      log.info(
        {
          backend: result.backend,
          removed_count: result.removed.length,
          removed: result.removed.slice(0, 100),
          min_age_ms: minAgeMs,
          duration_ms: Date.now() - startedAt,
        },
        "storage sweep finished",
      );
    } catch (error) {
      log.warn({ err: error instanceof Error ? error.message : String(error), min_age_ms: minAgeMs }, "storage sweep failed; retrying at the next interval");
    }
  };

  return runPeriodically(sweep, intervalMs);
}

// The write side of a backup's artifact: pg_dump's archive → (compression) → storage, where
// storage hashes what it stores. Each step is a stream stage, composed in this order by the
// dumper; encryption (encryptingPlan) comes after compression, since encrypted bytes do not
// compress. The plan is chosen once per worker from BACKUP_COMPRESSION, BACKUP_ENCRYPTION and
// the pg_dump at hand, and the encoding it yields is what the backup row records for every
// reader (read.ts).
import type { Duplex } from "node:stream";
import { ageEncryptStage } from "./age.js";
import { ChildStage } from "./child-stage.js";
import type { ArtifactEncoding, CompressionSetting } from "./encoding.js";
import { zstdCompressStage } from "./zstd.js";

/** pg_dump 16 added --compress=zstd (and lz4); older ones compress with gzip only. */
export const NATIVE_ZSTD_PG_DUMP_MAJOR = 16;

export interface WriterTools {
  /** pg_dump's major version (e.g. 15). */
  pgDumpMajor: number;
  /** Absolute path of zstd; needed only for zstd with a pg_dump older than 16. */
  zstd: string | null;
}

/** One backup's stages (one use each), between pg_dump's stdout and storage. */
export interface WriteStages {
  /**
   * A child-process stage pg_dump writes into directly (pg_dump's stdout is its stdin), or null
   * when pg_dump's stdout is read by this process. When set, it is also `stages[0]`.
   */
  direct: ChildStage | null;
  /** In pipeline order. */
  stages: Duplex[];
  /**
   * Once every stage has finished: the bytes of the archive pg_dump wrote, or null when they
   * went straight into a child stage uncounted (verification, which decodes it all, records them).
   */
  archiveSizeBytes(storedBytes: number): number | null;
}

export interface WritePlan {
  /** pg_dump's compression arguments. */
  pgDumpArgs: string[];
  /**
   * `recipients`: the age recipients of this artifact, for an encrypting plan (ignored otherwise).
   * `output`: a file descriptor (storage's temporary file: ArtifactStorage.putWritten) the last
   * stage's child writes into; with no stages, pg_dump's stdout is that file itself.
   */
  start(recipients?: readonly string[], output?: number): WriteStages;
  /** What the row records. */
  encoding: ArtifactEncoding;
}

export function writePlan(setting: CompressionSetting, tools: WriterTools): WritePlan {
  const identity = (pgDumpArgs: string[]): WritePlan => ({
    pgDumpArgs,
    start: () => ({ direct: null, stages: [], archiveSizeBytes: (storedBytes) => storedBytes }),
    encoding: { compression: setting.algorithm, compressionLevel: setting.level, archiveFormat: "custom", storedEncoding: "identity", encryption: null },
  });
  if (setting.algorithm === "none") return identity(["-Z0"]);
  // gzip inside the archive: what pg_dump -Fc has always done (single-threaded).
  if (setting.algorithm === "gzip") return identity([`-Z${setting.level}`]);
  // zstd inside the archive: still a plain pg_restore archive (for pg_restore 16+).
  if (tools.pgDumpMajor >= NATIVE_ZSTD_PG_DUMP_MAJOR) return identity([`--compress=zstd:${setting.level}`]);
  const { zstd } = tools;
  if (zstd === null) throw new Error("zstd compression with pg_dump < 16 needs the zstd binary");
  const level = setting.level ?? 1;
  return {
    // An uncompressed archive, compressed as one multi-threaded zstd stream around it.
    pgDumpArgs: ["-Z0"],
    start: (_recipients, output) => {
      const stage = zstdCompressStage(zstd, level, output);
      return { direct: stage, stages: [stage], archiveSizeBytes: () => null };
    },
    encoding: { compression: "zstd", compressionLevel: level, archiveFormat: "custom", storedEncoding: "zstd", encryption: null },
  };
}

/**
 * `plan`, then `age -e` to the recipients each start() is given (absolute path `age`). age reads
 * straight from zstd's stdout when compression is a child stage, and pg_dump writes straight into
 * age otherwise, so the archive never passes through this process on its way to age.
 */
export function encryptingPlan(plan: WritePlan, age: string): WritePlan {
  return {
    pgDumpArgs: plan.pgDumpArgs,
    encoding: { ...plan.encoding, encryption: "age" },
    start: (recipients, output) => {
      if (!recipients || recipients.length === 0) throw new Error("an encrypted artifact needs at least one recipient");
      const inner = plan.start();
      const last = inner.stages.at(-1);
      const stage = ageEncryptStage(age, recipients, { input: last instanceof ChildStage ? last : undefined, output });
      // The archive's size is known only once decrypted (verification records it).
      if (inner.stages.length === 0) return { direct: stage, stages: [stage], archiveSizeBytes: () => null };
      return { direct: inner.direct, stages: [...inner.stages, stage], archiveSizeBytes: () => null };
    },
  };
}

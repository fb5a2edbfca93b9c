// How a backup's artifact is encoded, as recorded on its row and read back by every reader:
// the archive pg_dump wrote (its format, and any compression pg_dump applied inside it), and
// the stream encoding wrapped around that archive before it was stored.

import type { ARCHIVE_FORMATS, COMPRESSIONS, ENCRYPTIONS, STORED_ENCODINGS } from "@capy/contracts";

/** The compression algorithm, wherever it was applied (inside the archive or around it). */
export type Compression = (typeof COMPRESSIONS)[number];
/** pg_dump's archive format; "custom" is `pg_dump -Fc`, what pg_restore reads. */
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];
/** What wraps the archive in storage (see @capy/contracts), inside any encryption. */
export type StoredEncoding = (typeof STORED_ENCODINGS)[number];
/** What encrypts the stored encoding ("age"); null: not encrypted. */
export type Encryption = (typeof ENCRYPTIONS)[number];

export interface ArtifactEncoding {
  compression: Compression;
  /** The level the writer used; null when not recorded (artifacts older than this column). */
  compressionLevel: number | null;
  archiveFormat: ArchiveFormat;
  storedEncoding: StoredEncoding;
  encryption: Encryption | null;
}

/** A BACKUP_COMPRESSION value: `zstd:<1-19>`, `gzip:<1-9>`, `none` (a bare name takes its default level). */
export interface CompressionSetting {
  algorithm: Compression;
  /** null for `none`. */
  level: number | null;
}

const LEVELS: Record<Compression, { min: number; max: number; default: number } | null> = {
  // zstd 1 measured smaller AND faster than 3 on the reference database (see README, Benchmarks).
  zstd: { min: 1, max: 19, default: 1 },
  gzip: { min: 1, max: 9, default: 6 },
  none: null,
};

/** Parses BACKUP_COMPRESSION; throws an Error naming what is accepted. */
export function parseCompressionSetting(text: string): CompressionSetting {
  const match = /^(zstd|gzip|none)(?::(\d{1,2}))?$/.exec(text.trim());
  const accepted = "expected zstd[:1-19], gzip[:1-9] or none";
  if (!match) throw new Error(`invalid compression "${text}": ${accepted}`);
  const algorithm = match[1] as Compression;
  const range = LEVELS[algorithm];
  if (range === null) {
    if (match[2] !== undefined) throw new Error(`invalid compression "${text}": none takes no level`);
    return { algorithm, level: null };
  }
  const level = match[2] === undefined ? range.default : Number(match[2]);
  if (level < range.min || level > range.max) throw new Error(`invalid compression "${text}": ${algorithm} levels are ${range.min}-${range.max}`);
  return { algorithm, level };
}

export function formatCompressionSetting(setting: CompressionSetting): string {
  return setting.level === null ? setting.algorithm : `${setting.algorithm}:${setting.level}`;
}

/** A BACKUP_ENCRYPTION value: "age" (the default) or "none". */
export type EncryptionSetting = Encryption | "none";

/** Parses BACKUP_ENCRYPTION; throws an Error naming what is accepted. */
export function parseEncryptionSetting(text: string): EncryptionSetting {
  const value = text.trim();
  if (value === "age" || value === "none") return value;
  throw new Error(`invalid encryption "${text}": expected age or none`);
}

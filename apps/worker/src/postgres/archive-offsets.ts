// Data offsets for a pg_dump custom-format archive that was written to a pipe. pg_dump writes
// the table of contents before the data and can go back to fill in where each entry's data
// block starts only when its output is seekable; a backup's pg_dump writes into a pipe (zstd,
// age, storage), so every entry says K_OFFSET_POS_NOT_SET. pg_restore -j then makes each worker
// search the data section for its table: with -Z0, one chunk per row, skipping a 10M-row table
// is millions of seeks and reads, while the other workers' connections sit idle (measured: a
// 1.2 GB archive restored with -j2 in 31-36 s without offsets, 13 s with them).
//
// writeDataOffsets walks the decoded archive file once (block headers only, through one large
// buffer: archive-window.ts) and writes each entry's offset into its TOC field, in place, as
// pg_dump's own _CloseArchive does when it can seek: the fields have a fixed size, nothing else
// moves. The layout follows PostgreSQL's pg_backup_archiver.c (ReadHead, ReadToc, ReadInt,
// ReadStr, WriteOffset) and pg_backup_custom.c (_ReadExtraToc, _readBlockHeader, _skipData,
// _skipLOs) for archive versions 1.14 (PostgreSQL 12-15), 1.15 (16: a compression-algorithm
// byte instead of an int level) and 1.16 (17+: a relkind int in each entry). Anything else
// leaves the file untouched, with the reason: pg_restore still restores it, only slower.
import { type FileHandle, open } from "node:fs/promises";
import type { Logger } from "../logger.js";
import { ArchiveSurprise, FileWindow, INT_BYTES } from "./archive-window.js";

/** _ReadExtraToc's offset flags (pg_backup_archiver.h). */
export const K_OFFSET_POS_NOT_SET = 1;
export const K_OFFSET_POS_SET = 2;
export const K_OFFSET_NO_DATA = 3;
/** Data block types (pg_backup_archiver.h); 2 (BLK_BLOB) is pre-1.3 only. */
const BLK_DATA = 1;
const BLK_BLOBS = 3;
/** ArchiveFormat archCustom (pg_backup.h). */
const ARCH_CUSTOM = 1;
/** Archive minor versions read here (major 1). */
const MINORS = [14, 15, 16];
/** sizeof(pgoff_t): the offset field is a flag byte, then this many bytes, least significant first. */
const OFFSET_BYTES = 8;
/** One read of the archive (bytes): ~150 reads for a 1.2 GB archive. */
const WINDOW_BYTES = 8 * 1024 * 1024;

export interface TocEntryData {
  dumpId: number;
  /** K_OFFSET_*: whether the entry has data and whether its offset is known. */
  flag: number;
  /** File position of the data block (meaningful with K_OFFSET_POS_SET). */
  offset: number;
  /** File position of the entry's offset field (its flag byte). */
  fieldAt: number;
}

export interface ArchiveToc {
  version: string;
  entries: TocEntryData[];
  /** File position right after the TOC: the first data block. */
  dataStart: number;
}

export type DataOffsetsResult = { written: true; entries: number } | { written: false; reason: string };

/** The header and table of contents of the custom-format archive `file`; rejects with ArchiveSurprise. */
export async function readArchiveToc(file: string): Promise<ArchiveToc> {
  const handle = await open(file, "r");
  try {
    const window = new FileWindow(handle, (await handle.stat()).size, WINDOW_BYTES);
    return await readToc(window, await readHead(window));
  } finally {
    await handle.close();
  }
}

/**
 * Writes the data offset of every entry of the archive `file` into its table of contents. The
 * whole file is checked first (header, TOC, every data block up to the end); the file is changed
 * only when all of it is as pg_dump writes it and no entry's offset is set yet.
 */
export async function writeDataOffsets(file: string): Promise<DataOffsetsResult> {
  const handle = await open(file, "r+");
  try {
    const window = new FileWindow(handle, (await handle.stat()).size, WINDOW_BYTES);
    const toc = await readToc(window, await readHead(window));
    const patches = locateData(toc, await scanDataBlocks(window));
    if (typeof patches === "string") return { written: false, reason: patches };
    if (patches.length === 0) return { written: true, entries: 0 };
    const first = patches[0]!.fieldAt;
    const span = await readExactly(handle, first, patches.at(-1)!.fieldAt + 1 + OFFSET_BYTES - first);
    for (const { fieldAt, offset } of patches) {
      // Read again just now: the field must still say "not set".
      if (span[fieldAt - first] !== K_OFFSET_POS_NOT_SET) return { written: false, reason: `offset field at byte ${fieldAt} changed while reading` };
      span[fieldAt - first] = K_OFFSET_POS_SET;
      span.writeBigUInt64LE(BigInt(offset), fieldAt - first + 1);
    }
    // One write of the TOC's span: each field is whole either way, and a field written is right.
    await handle.write(span, 0, span.length, first);
    return { written: true, entries: patches.length };
  } catch (error) {
    if (error instanceof ArchiveSurprise) return { written: false, reason: error.message };
    throw error;
  } finally {
    await handle.close();
  }
}

/**
 * writeDataOffsets for a pg_restore -j about to read `file`; never fails the restore, which
 * works without offsets (slower): an unexpected archive or error is logged once, at warn.
 */
export async function addDataOffsets(file: string, log: Logger): Promise<void> {
  const started = Date.now();
  try {
    const result = await writeDataOffsets(file);
    if (result.written) log.info({ entries: result.entries, offsets_ms: Date.now() - started }, "archive data offsets written");
    else log.warn({ reason: result.reason }, "archive left without data offsets: pg_restore -j searches it for each table's data");
  } catch (error) {
    log.warn({ err: error }, "could not write the archive's data offsets: pg_restore -j searches it for each table's data");
  }
}

/** ReadHead; resolves with the archive's minor version. */
async function readHead(window: FileWindow): Promise<number> {
  if ((await window.bytes(5)).toString("latin1") !== "PGDMP") throw new ArchiveSurprise("not a custom-format archive (no PGDMP magic)");
  const [major, minor, revision] = [await window.byte(), await window.byte(), await window.byte()];
  if (major !== 1 || !MINORS.includes(minor)) throw new ArchiveSurprise(`archive version ${major}.${minor}.${revision} is not one this reads`);
  const [intSize, offSize, format] = [await window.byte(), await window.byte(), await window.byte()];
  if (intSize !== INT_BYTES - 1 || offSize !== OFFSET_BYTES) throw new ArchiveSurprise(`archive integers of ${intSize} bytes, offsets of ${offSize}`);
  if (format !== ARCH_CUSTOM) throw new ArchiveSurprise(`archive format ${format} is not custom (${ARCH_CUSTOM})`);
  // 1.15+: the compression algorithm, a byte; before: the compression level, an int.
  if (minor >= 15) window.skip(1);
  else await window.int();
  // The creation time: sec, min, hour, mday, mon, year, isdst.
  for (let field = 0; field < 7; field++) await window.int();
  // The database name, the server's version, pg_dump's version.
  for (let field = 0; field < 3; field++) await window.skipStr();
  return minor;
}

/** ReadToc with the custom format's _ReadExtraToc (the offset field) after each entry. */
async function readToc(window: FileWindow, minor: number): Promise<ArchiveToc> {
  const count = await window.int();
  if (count < 0) throw new ArchiveSurprise(`TOC of ${count} entries`);
  const entries: TocEntryData[] = [];
  for (let index = 0; index < count; index++) {
    const dumpId = await window.int();
    if (dumpId <= 0) throw new ArchiveSurprise(`TOC entry ${index} has dump id ${dumpId}`);
    await window.int(); // hadDumper
    // tableoid, oid, tag, desc; section (int); defn, dropStmt, copyStmt, namespace, tablespace, tableam.
    for (let field = 0; field < 4; field++) await window.skipStr();
    await window.int();
    for (let field = 0; field < 6; field++) await window.skipStr();
    if (minor >= 16) await window.int(); // relkind
    await window.skipStr(); // owner
    await window.skipStr(); // "false": WITH OIDS
    while (!(await window.skipStr())); // dependencies, up to a NULL
    entries.push(await readOffsetField(window, dumpId));
  }
  return { version: `1.${minor}`, entries, dataStart: window.pos };
}

/** ReadOffset: a flag byte, then the offset, least significant byte first. */
async function readOffsetField(window: FileWindow, dumpId: number): Promise<TocEntryData> {
  const fieldAt = window.pos;
  const flag = await window.byte();
  if (flag !== K_OFFSET_POS_NOT_SET && flag !== K_OFFSET_POS_SET && flag !== K_OFFSET_NO_DATA)
    throw new ArchiveSurprise(`TOC entry ${dumpId} has data offset flag ${flag}`);
  const offset = Number((await window.bytes(OFFSET_BYTES)).readBigUInt64LE());
  return { dumpId, flag, offset, fieldAt };
}

/** The data section, from the end of the TOC to the end of the file: each block's dump id and file position. */
async function scanDataBlocks(window: FileWindow): Promise<Map<number, number>> {
  const blocks = new Map<number, number>();
  while (window.pos < window.fileSize) {
    const at = window.pos;
    const type = await window.byte();
    const dumpId = await window.int();
    if (blocks.has(dumpId)) throw new ArchiveSurprise(`two data blocks for entry ${dumpId}`);
    blocks.set(dumpId, at);
    if (type === BLK_DATA) await window.skipChunks();
    else if (type === BLK_BLOBS) {
      // _skipLOs: each large object's OID, then its data, up to a zero OID.
      while ((await window.int()) !== 0) await window.skipChunks();
    } else throw new ArchiveSurprise(`data block of type ${type} at byte ${at}`);
  }
  return blocks;
}

/** Each entry's offset field and data position, in file order; or why the file is better left alone. */
function locateData(toc: ArchiveToc, blocks: Map<number, number>): Array<{ fieldAt: number; offset: number }> | string {
  if (toc.entries.some((entry) => entry.flag === K_OFFSET_POS_SET)) return "the archive already has data offsets";
  const withData = new Map(toc.entries.filter((entry) => entry.flag === K_OFFSET_POS_NOT_SET).map((entry) => [entry.dumpId, entry]));
  for (const dumpId of blocks.keys()) if (!withData.has(dumpId)) return `a data block for entry ${dumpId}, which the TOC does not list as having data`;
  for (const dumpId of withData.keys()) if (!blocks.has(dumpId)) return `no data block for entry ${dumpId}`;
  return [...withData.values()].map((entry) => ({ fieldAt: entry.fieldAt, offset: blocks.get(entry.dumpId)! })).sort((a, b) => a.fieldAt - b.fieldAt);
}

async function readExactly(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new ArchiveSurprise("file shorter than its TOC while patching");
  return buffer;
}

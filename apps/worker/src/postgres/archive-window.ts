// A forward reader of a file through one large buffer, for walking a pg_dump custom-format
// archive (archive-offsets.ts): the archive's integers, strings and data chunks are read out of
// the buffer, and the file is read again only when the buffer runs out, so walking millions of
// small chunks costs a few hundred reads rather than a syscall per chunk.
import type { FileHandle } from "node:fs/promises";

/** The archive is not what the reader expected: too short, or a value no pg_dump writes. */
export class ArchiveSurprise extends Error {
  override readonly name = "ArchiveSurprise";
}

/** Bytes of one pg_dump integer: a sign byte, then 4 bytes least significant first (intSize 4). */
export const INT_BYTES = 5;

/** Largest chunk or string length a 32-bit signed int holds (bytes). */
const MAX_LENGTH = 0x7fff_ffff;

export class FileWindow {
  private readonly buffer: Buffer;
  /** File position of buffer[0]. */
  private start = 0;
  /** Bytes of the buffer that hold the file from `start`. */
  private filled = 0;
  /** File position of the next byte to read. */
  pos = 0;

  /** `windowBytes`: the buffer's size (bytes), and so the size of each read. */
  constructor(
    private readonly handle: FileHandle,
    readonly fileSize: number,
    windowBytes: number,
  ) {
    this.buffer = Buffer.allocUnsafe(windowBytes);
  }

  async byte(): Promise<number> {
    const at = await this.need(1);
    this.pos += 1;
    return this.buffer[at]!;
  }

  /** pg_dump's ReadInt with intSize 4: a sign byte (non-zero: negative), then the magnitude. */
  async int(): Promise<number> {
    const at = await this.need(INT_BYTES);
    this.pos += INT_BYTES;
    const magnitude = this.buffer.readUInt32LE(at + 1);
    return this.buffer[at] === 0 ? magnitude : -magnitude;
  }

  /** Skips pg_dump's ReadStr: an int length, then that many bytes; a negative length is NULL. Returns whether it was NULL. */
  async skipStr(): Promise<boolean> {
    const length = await this.int();
    if (length < 0) return true;
    if (length > MAX_LENGTH) throw new ArchiveSurprise(`string of ${length} bytes at byte ${this.pos}`);
    this.pos += length;
    if (this.pos > this.fileSize) throw new ArchiveSurprise(`string runs past the end of the file (${this.fileSize} bytes)`);
    return false;
  }

  /** The next `length` bytes (a copy). */
  async bytes(length: number): Promise<Buffer> {
    const at = await this.need(length);
    this.pos += length;
    return Buffer.from(this.buffer.subarray(at, at + length));
  }

  skip(length: number): void {
    this.pos += length;
  }

  /**
   * Skips one data stream of pg_dump's custom format (_skipData): chunks of an int length and
   * that many bytes, up to a zero length. The chunks whose headers are in the buffer are walked
   * without awaiting; a chunk longer than what is left of the buffer is skipped without reading it.
   */
  async skipChunks(): Promise<void> {
    for (;;) {
      const { buffer, start } = this;
      const end = start + this.filled;
      let pos = this.pos;
      while (pos + INT_BYTES <= end) {
        const at = pos - start;
        // pg_dump never writes a negative length; a length past 2^31 is not a C int.
        if (buffer[at] !== 0) throw new ArchiveSurprise(`negative chunk length at byte ${pos}`);
        const length = buffer.readUInt32LE(at + 1);
        if (length > MAX_LENGTH) throw new ArchiveSurprise(`chunk of ${length} bytes at byte ${pos}`);
        pos += INT_BYTES + length;
        if (length === 0) {
          this.pos = pos;
          return;
        }
      }
      this.pos = pos;
      await this.need(INT_BYTES);
    }
  }

  /** Makes the `length` bytes at `pos` readable; resolves with their index in the buffer. */
  private async need(length: number): Promise<number> {
    if (this.pos + length > this.fileSize) throw new ArchiveSurprise(`file ends at byte ${this.fileSize}, inside a value at byte ${this.pos}`);
    if (this.pos < this.start || this.pos + length > this.start + this.filled) await this.fill(length);
    return this.pos - this.start;
  }

  private async fill(length: number): Promise<void> {
    if (length > this.buffer.length) throw new ArchiveSurprise(`value of ${length} bytes at byte ${this.pos} exceeds the read buffer`);
    const wanted = Math.min(this.buffer.length, this.fileSize - this.pos);
    let filled = 0;
    while (filled < wanted) {
      const { bytesRead } = await this.handle.read(this.buffer, filled, wanted - filled, this.pos + filled);
      if (bytesRead === 0) throw new ArchiveSurprise(`file shorter than its size while reading at byte ${this.pos + filled}`);
      filled += bytesRead;
    }
    this.start = this.pos;
    this.filled = filled;
  }
}

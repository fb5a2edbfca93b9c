// The last N bytes of a stream (a child's stderr, a text stdout), kept for the job row. Memory
// stays bounded however much the child writes.

/** What a job row keeps of each output stream (bytes). */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = false;

  constructor(readonly limitBytes: number = OUTPUT_TAIL_BYTES) {
    if (!Number.isInteger(limitBytes) || limitBytes <= 0) throw new RangeError("limitBytes must be a positive integer");
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (chunk.length >= this.limitBytes) {
      this.dropped ||= this.size > 0 || chunk.length > this.limitBytes;
      // Copy so the kept tail does not pin the whole (possibly large) chunk in memory.
      this.chunks = [Buffer.from(chunk.subarray(chunk.length - this.limitBytes))];
      this.size = this.limitBytes;
      return;
    }
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limitBytes) {
      this.dropped = true;
      const first = this.chunks[0]!;
      const excess = this.size - this.limitBytes;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  /** True once anything has been dropped from the front. */
  get truncated(): boolean {
    return this.dropped;
  }

  get byteLength(): number {
    return this.size;
  }

  /** The tail as UTF-8; a character cut in half at the front is dropped, not mangled. */
  toString(): string {
    let bytes = Buffer.concat(this.chunks, this.size);
    if (this.dropped) {
      let start = 0;
      // UTF-8 continuation bytes are 10xxxxxx; a character never has more than three.
      while (start < Math.min(3, bytes.length) && (bytes[start]! & 0xc0) === 0x80) start += 1;
      bytes = bytes.subarray(start);
    }
    return bytes.toString("utf8");
  }
}

// Test bodies generated on demand (never held whole in memory) and the helpers that read them back.
// Bytes come from AES-128-CTR's keystream keyed by a seed: fast, incompressible, reproducible.
import { createCipheriv, createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { Readable } from "node:stream";

export const KiB = 1024;
export const MiB = 1024 * KiB;
const CHUNK_BYTES = 64 * KiB;

/** The byte sequence named by `seed`, produced in order. */
class SeededBytes {
  readonly #cipher;

  constructor(seed: string) {
    const key = createHash("sha256").update(seed).digest().subarray(0, 16);
    this.#cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  }

  next(length: number): Buffer {
    return this.#cipher.update(Buffer.alloc(length));
  }
}

export interface GeneratedBody {
  stream: Readable;
  /** Bytes handed out so far (how much of the body a consumer pulled). */
  readonly producedBytes: number;
}

/**
 * A stream of `sizeBytes` seeded bytes in 64 KiB chunks. With `failAfterBytes`, the stream fails
 * with an Error ("generated body failed after N bytes") once it has produced that many bytes.
 */
export function generatedBody(seed: string, sizeBytes: number, options: { failAfterBytes?: number } = {}): GeneratedBody {
  const bytes = new SeededBytes(seed);
  let produced = 0;
  const stream = new Readable({
    read() {
      if (options.failAfterBytes !== undefined && produced >= options.failAfterBytes) {
        this.destroy(new Error(`generated body failed after ${produced} bytes`));
        return;
      }
      if (produced >= sizeBytes) {
        this.push(null);
        return;
      }
      const length = Math.min(CHUNK_BYTES, sizeBytes - produced, (options.failAfterBytes ?? Infinity) - produced);
      produced += length;
      this.push(bytes.next(length));
    },
  });
  return {
    stream,
    get producedBytes() {
      return produced;
    },
  };
}

/** SHA-256 (hex) of the seeded body, computed apart from any storage code. */
export function expectedSha256(seed: string, sizeBytes: number): string {
  const bytes = new SeededBytes(seed);
  const hash = createHash("sha256");
  for (let done = 0; done < sizeBytes; done += CHUNK_BYTES) hash.update(bytes.next(Math.min(CHUNK_BYTES, sizeBytes - done)));
  return hash.digest("hex");
}

/** Reads `stream` to its end; its size and SHA-256 (hex). Rejects when the stream fails. */
export async function drain(stream: Readable): Promise<{ sizeBytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    sizeBytes += chunk.length;
  }
  return { sizeBytes, sha256: hash.digest("hex") };
}

/**
 * Reads `stream` to its end comparing it, chunk by chunk, with the seeded body; returns the offset
 * of the first differing byte, or -1 when the stream is byte-identical (same bytes, same length).
 */
export async function firstDifference(stream: Readable, seed: string, sizeBytes: number): Promise<number> {
  const bytes = new SeededBytes(seed);
  let offset = 0;
  let difference = -1;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (difference === -1) {
      const comparable = Math.max(0, Math.min(chunk.length, sizeBytes - offset));
      const expected = bytes.next(comparable);
      for (let index = 0; index < chunk.length; index++) {
        if (index >= comparable || chunk[index] !== expected[index]) {
          difference = offset + index;
          break;
        }
      }
    }
    offset += chunk.length;
  }
  if (difference === -1 && offset !== sizeBytes) difference = offset;
  return difference;
}

/** Flips (XOR 0xff) the byte at `offset` of a file in place: corruption at rest. */
export async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await open(file, "r+");
  try {
    const byte = Buffer.alloc(1);
    const { bytesRead } = await handle.read(byte, 0, 1, offset);
    if (bytesRead !== 1) throw new Error(`${file} has no byte at offset ${offset}`);
    byte[0] = byte[0]! ^ 0xff;
    await handle.write(byte, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

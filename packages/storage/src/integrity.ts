// Hashing on the way through a stream, for both directions:
// - `withSha256Check` wraps a reader so it fails at its end when the bytes are not the expected ones;
// - `UploadDigester` hashes what an S3 upload sends, per object and per multipart part, so the
//   checksums and ETag that the store reports can be compared with what was really sent.
import { createHash, type Hash } from "node:crypto";
import { pipeline, type Readable, Transform, type TransformCallback } from "node:stream";
import { ChecksumMismatchError } from "./storage.js";

const SHA256_HEX = /^[0-9a-f]{64}$/i;

export function assertSha256Hex(value: string): void {
  if (!SHA256_HEX.test(value)) throw new TypeError(`expected a SHA-256 as 64 hex digits, got "${value}"`);
}

/**
 * Returns `source` seen through a SHA-256 check: bytes pass unchanged; at the end, if their digest
 * is not `expectedSha256` (hex), the returned stream fails with ChecksumMismatchError instead of
 * ending. Errors and early destruction propagate both ways (source ⇄ returned stream).
 */
export function withSha256Check(source: Readable, key: string, expectedSha256: string): Readable {
  assertSha256Hex(expectedSha256);
  const expected = expectedSha256.toLowerCase();
  const hash = createHash("sha256");
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const actual = hash.digest("hex");
      done(actual === expected ? null : new ChecksumMismatchError(key, expected, actual));
    },
  });
  // The consumer sees errors on `check`; the callback only keeps pipeline from re-throwing them.
  pipeline(source, check, () => {});
  return check;
}

export interface PartDigest {
  sizeBytes: number;
  sha256: Buffer;
  md5: Buffer;
}

export interface UploadDigest {
  sizeBytes: number;
  /** SHA-256 of the whole object, hex: what `put` reports and readers verify. */
  sha256Hex: string;
  /** MD5 of the whole object, hex: the ETag of a single-part upload on S3 (and of any upload on s3rver). */
  md5Hex: string;
  /** Per-part digests at the multipart part boundaries (one entry for a single-part upload). */
  parts: PartDigest[];
}

/**
 * A pass-through Transform that hashes an upload body: SHA-256 and MD5 of the whole stream, and of
 * every `partSizeBytes` slice, which is exactly how @aws-sdk/lib-storage cuts parts (each part is
 * `partSizeBytes` long except the last; a body of at most `partSizeBytes` goes as one PutObject).
 * It fails the stream when the body outgrows `maxParts` parts, before the store refuses it.
 * Cost, measured on the 2-core dev machine: ~1.2 GiB/s per SHA-256 and ~0.5 GiB/s per MD5 pass,
 * so the four passes together hash ~170 MiB/s, above what pg_dump produces when compressing.
 */
export class UploadDigester extends Transform {
  readonly #partSizeBytes: number;
  readonly #maxParts: number;
  readonly #objectSha256 = createHash("sha256");
  readonly #objectMd5 = createHash("md5");
  #partSha256: Hash = createHash("sha256");
  #partMd5: Hash = createHash("md5");
  #partBytes = 0;
  #sizeBytes = 0;
  readonly #parts: PartDigest[] = [];
  #digest: UploadDigest | undefined;

  constructor(partSizeBytes: number, maxParts: number) {
    super();
    this.#partSizeBytes = partSizeBytes;
    this.#maxParts = maxParts;
  }

  /** The digests; only once the whole body went through (after the upload read its end). */
  get digest(): UploadDigest {
    if (!this.#digest) throw new Error("upload body not fully read yet");
    return this.#digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#sizeBytes += chunk.length;
    if (this.#sizeBytes > this.#partSizeBytes * this.#maxParts) {
      done(new Error(`upload body exceeds ${this.#maxParts} parts of ${this.#partSizeBytes} bytes; raise the part size`));
      return;
    }
    this.#objectSha256.update(chunk);
    this.#objectMd5.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.#partSizeBytes - this.#partBytes);
      const slice = chunk.subarray(offset, offset + take);
      this.#partSha256.update(slice);
      this.#partMd5.update(slice);
      this.#partBytes += take;
      offset += take;
      if (this.#partBytes === this.#partSizeBytes) this.#closePart();
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    // The last part is whatever is left; an empty body is still one (empty) PutObject.
    if (this.#partBytes > 0 || this.#parts.length === 0) this.#closePart();
    this.#digest = {
      sizeBytes: this.#sizeBytes,
      sha256Hex: this.#objectSha256.digest("hex"),
      md5Hex: this.#objectMd5.digest("hex"),
      parts: this.#parts,
    };
    done();
  }

  #closePart(): void {
    this.#parts.push({ sizeBytes: this.#partBytes, sha256: this.#partSha256.digest(), md5: this.#partMd5.digest() });
    this.#partSha256 = createHash("sha256");
    this.#partMd5 = createHash("md5");
    this.#partBytes = 0;
  }
}

// Where backup artifacts live. A small interface so the filesystem backend (default) and an
// S3-compatible one are interchangeable. Writers stream: memory stays flat whatever the size.
import type { Readable } from "node:stream";

export interface StoredObject {
  key: string;
  /** Bytes written. */
  sizeBytes: number;
  /** SHA-256 of the bytes, hex. */
  sha256: string;
}

export interface ArtifactStorage {
  /**
   * Streams `body` to `key`. The object becomes visible only once fully written; on any error
   * (including the body stream failing) nothing remains under `key` and the promise rejects.
   */
  put(key: string, body: Readable): Promise<StoredObject>;
  /** A stream of the object's bytes; rejects with ObjectNotFoundError when missing. */
  get(key: string): Promise<Readable>;
  /** Size in bytes; rejects with ObjectNotFoundError when missing. */
  size(key: string): Promise<number>;
  /** Deletes the object; deleting a missing key is not an error (idempotent). */
  delete(key: string): Promise<void>;
  /** Every key under a prefix, for sweeps that look for orphans. */
  list(prefix: string): AsyncIterable<string>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no stored object ${key}`);
    this.name = "ObjectNotFoundError";
  }
}

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

export interface GetOptions {
  /**
   * Hex SHA-256 the bytes must have, normally the `sha256` that `put` returned and the caller
   * recorded. When set, the stream hashes what it delivers and, if the bytes differ, fails with
   * ChecksumMismatchError at its end instead of ending: read it to the end before trusting it.
   */
  expectedSha256?: string;
}

export interface ArtifactStorage {
  /**
   * Streams `body` to `key`. The object becomes visible only once fully written; on any error
   * (including the body stream failing) nothing remains under `key` and the promise rejects.
   * `put` owns `body`: it is consumed to its end, or destroyed when the put fails.
   */
  put(key: string, body: Readable): Promise<StoredObject>;
  /**
   * Like put, for bytes a child process writes itself (e.g. the last process of a dump's
   * pipeline, its stdout a file): `write(fd, signal)` starts the writer with `fd` as its output
   * and resolves once it finished successfully (it stops when `signal` aborts: storage failed).
   * The bytes never pass through this process: storage hashes them by reading them back as they
   * land, reporting the bytes stored so far to `onProgress`. When `write` rejects, nothing remains
   * under `key` and the promise rejects with that same error, unchanged. Only backends that write
   * local files have it (the filesystem); callers fall back to put.
   */
  putWritten?(key: string, write: (fd: number, signal: AbortSignal) => Promise<void>, onProgress?: (bytes: number) => void): Promise<StoredObject>;
  /** A stream of the object's bytes; rejects with ObjectNotFoundError when missing. */
  get(key: string, options?: GetOptions): Promise<Readable>;
  /** Size in bytes; rejects with ObjectNotFoundError when missing. */
  size(key: string): Promise<number>;
  /** Deletes the object; deleting a missing key is not an error (idempotent). */
  delete(key: string): Promise<void>;
  /** Every key under a prefix (plain string prefix, not a directory), for orphan sweeps. */
  list(prefix: string): AsyncIterable<string>;
  /**
   * Removes unfinished writes (filesystem `.partial` files, S3 incomplete multipart uploads) of
   * keys under `prefix` for which `shouldDiscard(key)` holds, whatever their age, and returns
   * those keys. For a caller that knows the writers are gone or fenced off (a job's earlier
   * attempts); the age-based sweeps cover everything else.
   */
  discardIncomplete?(prefix: string, shouldDiscard?: (key: string) => boolean): Promise<string[]>;
  /** Releases network resources (the S3 backend's sockets); a no-op for the filesystem. */
  close?(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`no stored object ${key}`);
    this.name = "ObjectNotFoundError";
  }
}

/** Bytes that do not hash to what was expected: corruption in transit or at rest. */
export class ChecksumMismatchError extends Error {
  constructor(
    readonly key: string,
    /** What the check expected, in the notation of `what` (hex SHA-256, ETag, …). */
    readonly expected: string,
    readonly actual: string,
    /** Which value was compared, e.g. "sha256" or "ETag". */
    readonly what: string = "sha256",
  ) {
    super(`checksum mismatch for ${key}: ${what} is ${actual}, expected ${expected}`);
    this.name = "ChecksumMismatchError";
  }
}

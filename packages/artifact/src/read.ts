// The one way to read a backup's artifact back: storage → checksum → (decryption) →
// (decompression) → a pg_restore-ready archive stream. Verification, the download endpoint and
// restores all open artifacts here, so each knows every encoding ever written (old gzip
// artifacts are plain archives, older ones unencrypted). Decryption is its own stage (decrypt.ts).
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { PassThrough, pipeline, type Readable, Transform, Writable } from "node:stream";
import { pipeline as pipelinePromise } from "node:stream/promises";
import { ENCRYPTIONS, STORED_ENCODINGS } from "@capy/contracts";
import type { ArtifactStorage } from "@capy/storage";
import type { StageFailedError } from "./child-stage.js";
import { ArtifactKeyMismatchError, type DecryptOptions, decryptionStage } from "./decrypt.js";
import type { Encryption, StoredEncoding } from "./encoding.js";
import { zstdDecompressStage } from "./zstd.js";

/** What the reader needs of a backup row (the Prisma row fits as is). */
export interface StoredArtifact {
  backupKey: string;
  /** Hex SHA-256 of the stored bytes, recorded when they were written. */
  sha256: string;
  /** Stored bytes. */
  sizeBytes: bigint | number;
  /** Bytes of the archive once decoded; null for rows older than the column. */
  archiveSizeBytes: bigint | number | null;
  storedEncoding: string;
  /** "age" or null (not encrypted; rows older than the column lack it). */
  encryption?: string | null;
  /** The platform key an encrypted artifact was encrypted to. */
  encryptionKeyId?: string | null;
}

/** "archive": what pg_restore reads (decoded); "stored": the stored bytes as they are. */
export type ReadAs = "archive" | "stored";

export interface OpenedArtifact {
  body: Readable;
  /** Bytes `body` will deliver (with intoFile: the file will hold), when known (an old row read decoded may not know it). */
  sizeBytes: number | null;
  /** What `body` is: "identity" is a pg_restore archive (when `encryption` is null). */
  encoding: StoredEncoding;
  /** What encrypts `body`: "age" for an encrypted artifact's stored bytes, else null. */
  encryption: Encryption | null;
}

/** The stored bytes do not hash to the recorded SHA-256: corruption at rest or in transit. */
export class ArtifactChecksumError extends Error {
  override readonly name = "ArtifactChecksumError";

  constructor(
    readonly expected: string,
    readonly actual: string,
    readonly sizeBytes: number,
    /** Bytes recorded when written, when known: a shorter object was truncated. */
    readonly recordedBytes?: number,
  ) {
    const size =
      recordedBytes === undefined || recordedBytes === sizeBytes
        ? `${sizeBytes} bytes`
        : `${sizeBytes} bytes, ${recordedBytes} recorded: ${sizeBytes < recordedBytes ? "truncated" : "longer"}`;
    super(`artifact checksum mismatch: expected ${expected}, stored object hashes to ${actual} (${size})`);
  }
}

export interface OpenOptions extends DecryptOptions {
  as: ReadAs;
  /** Absolute path of zstd, for zstd artifacts read as archives. */
  zstd: string | null;
  /**
   * The last stage writes what `body` would deliver into this new file instead (a file in a
   * private directory: pg_restore -j needs a seekable archive); `body` then delivers no bytes and
   * ends once the file is complete, or fails as it would have. A zstd artifact is decoded by
   * `zstd -d -o <file>` itself: copying the decoded archive (~6.4 x the stored bytes) through this
   * process would cost ~3-5 s of CPU per 1.2 GB on two cores (README, Benchmarks).
   */
  intoFile?: string;
}

/**
 * Opens `artifact` as a stream. The stored bytes are hashed on the way: a mismatch fails the
 * stream at its end (ArtifactChecksumError), so read to the end before trusting it; a failed
 * decryption or decompression fails it with StageFailedError. Rejects with ObjectNotFoundError
 * when missing, ArtifactKeyError when its decryption key is missing or unusable.
 */
export async function openArtifact(storage: ArtifactStorage, artifact: StoredArtifact, options: OpenOptions): Promise<OpenedArtifact> {
  const encoding = storedEncodingOf(artifact);
  const encryption = encryptionOf(artifact);
  const storedSize = Number(artifact.sizeBytes);
  if (options.as === "archive" && encoding === "zstd" && options.zstd === null) throw new Error("reading a zstd artifact needs the zstd binary");
  // Before any byte is read: a missing key fails here, with nothing to clean up.
  const decrypt =
    options.as === "archive" && encryption === "age" ? await decryptionStage(artifact.backupKey, artifact.encryptionKeyId ?? null, options) : null;
  let stored: Readable;
  try {
    // pipeline (not .pipe) so a failing storage read fails what the caller reads.
    stored = pipeline(await storage.get(artifact.backupKey), checksumTap(artifact.sha256, storedSize), () => {});
  } catch (error) {
    decrypt?.destroy();
    throw error;
  }
  const { intoFile } = options;
  const deliver = (body: Readable) => keepingErrors(intoFile === undefined ? body : writtenInto(body, intoFile));
  if (options.as === "stored") return { body: deliver(stored), sizeBytes: storedSize, encoding, encryption };
  const archiveSize = artifact.archiveSizeBytes === null ? null : Number(artifact.archiveSizeBytes);
  const plain = decrypt ? pipeline(stored, decrypt, () => {}) : stored;
  if (encoding === "identity") return { body: deliver(plain), sizeBytes: decrypt ? archiveSize : storedSize, encoding, encryption: null };
  // With intoFile, zstd's own output is the file; its (empty) stdout still ends only on success.
  // Decrypted, zstd reads age's stdout itself: the decrypted bytes do not pass through here.
  const decoded = pipeline(plain, zstdDecompressStage(options.zstd!, intoFile, decrypt ?? undefined), () => {});
  return { body: keepingErrors(decoded), sizeBytes: archiveSize, encoding: "identity", encryption: null };
}

/**
 * `body`, its failure kept for a reader that attaches later. pipeline() stops listening to its
 * last stream once that stream's input is all written, but zstd -d can still fail after that,
 * before any reader listens (the download route first awaits its audit row): an 'error' event
 * nobody listens to would end the process. A reader attaching later still gets the failure
 * (body.errored: stream.pipeline, finished() and async iteration report it).
 */
function keepingErrors(body: Readable): Readable {
  body.on("error", () => {});
  return body;
}

/** `body` written into the new file `file` (0600): an empty stream that ends once it is complete. */
function writtenInto(body: Readable, file: string): Readable {
  const done = new PassThrough();
  pipeline(body, createWriteStream(file, { flags: "wx", mode: 0o600 }), (error) => (error ? done.destroy(error) : done.end()));
  // A reader that gives up (destroys `done`) stops the write and the storage read behind it.
  done.once("close", () => body.destroy());
  return done;
}

/**
 * Reads the stored bytes once more, only hashing them: rejects with ArtifactChecksumError unless
 * they are the recorded ones. Tells, after a decoding failure, whether the stored bytes changed
 * (the cause) or were already undecodable when written.
 */
export async function checkStored(storage: ArtifactStorage, artifact: StoredArtifact): Promise<void> {
  const tap = checksumTap(artifact.sha256, Number(artifact.sizeBytes));
  await pipelinePromise(await storage.get(artifact.backupKey), tap, new Writable({ write: (_chunk, _encoding, done) => done() }));
}

/**
 * What age or zstd exiting non-zero says about an artifact, as every reader reports it (a killed
 * child says nothing about it: callers pass only exits with a code). Stored bytes that changed
 * since they were recorded are the cause, whatever age (a changed header even reads as a wrong
 * key) or zstd made of them: a checksum mismatch. Otherwise the key does not match, or the bytes
 * were undecodable as stored.
 */
export async function decodingFailureMessage(storage: ArtifactStorage, artifact: StoredArtifact, error: StageFailedError): Promise<string> {
  try {
    await checkStored(storage, artifact);
  } catch (checked) {
    if (checked instanceof ArtifactChecksumError) return checked.message;
  }
  if (error instanceof ArtifactKeyMismatchError) return error.message;
  return `artifact does not ${error.purpose === "decryption" ? "decrypt" : "decompress"}: ${error.message}`;
}

function encryptionOf(artifact: StoredArtifact): Encryption | null {
  const encryption = artifact.encryption ?? null;
  if (encryption !== null && !ENCRYPTIONS.includes(encryption as Encryption))
    throw new Error(`artifact ${artifact.backupKey} has an unknown encryption "${encryption}"`);
  return encryption as Encryption | null;
}

function storedEncodingOf(artifact: StoredArtifact): StoredEncoding {
  const encoding = artifact.storedEncoding as StoredEncoding;
  if (!STORED_ENCODINGS.includes(encoding)) throw new Error(`artifact ${artifact.backupKey} has an unknown stored encoding "${artifact.storedEncoding}"`);
  return encoding;
}

/**
 * Passes bytes through, hashing them; fails at the end unless they hash to `expected`. The last
 * chunk is held back until the check passed, so a reader told the size in advance (a download's
 * Content-Length) never receives every byte of an artifact that fails it.
 */
function checksumTap(expected: string, recordedBytes: number): Transform {
  const hash = createHash("sha256");
  let sizeBytes = 0;
  let held: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      const previous = held;
      held = chunk;
      done(null, previous ?? undefined);
    },
    flush(done) {
      const actual = hash.digest("hex");
      if (actual !== expected.toLowerCase()) return done(new ArtifactChecksumError(expected, actual, sizeBytes, recordedBytes));
      done(null, held ?? undefined);
    },
  });
}

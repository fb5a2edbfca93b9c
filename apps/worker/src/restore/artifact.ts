// Opening a backup's artifact for pg_restore (restores, and verification's copy). It goes through the one artifact reader
// (@capy/artifact's openArtifact: the stored bytes hashed against the backup's SHA-256,
// decrypted when stored encrypted, decompressed when stored compressed), so a change of storage
// format stays there; this maps its failures to the worker's error types and counts the bytes
// for progress.
import { type Readable, Transform } from "node:stream";
import {
  ArtifactChecksumError,
  ArtifactKeyError,
  ArtifactKeyMismatchError,
  checkStored,
  type OpenOptions,
  openArtifact,
  type StageFailedError,
  type StoredArtifact,
} from "@capy/artifact";
import { type ArtifactStorage, ObjectNotFoundError } from "@capy/storage";
import { StorageError, VerificationFailedError } from "../failures/errors.js";

export type ArtifactRef = StoredArtifact;

/** Called with the total archive bytes read so far (progress). */
export type OnBytes = (bytes: number) => void;

/** How artifacts are decoded: zstd for zstd artifacts; age and the key lookup for encrypted ones. */
export type ArtifactReading = Omit<OpenOptions, "as">;

export async function openRestoreStream(storage: ArtifactStorage, backup: ArtifactRef, reading: ArtifactReading, onBytes?: OnBytes): Promise<Readable> {
  let body: Readable;
  try {
    body = (await openArtifact(storage, backup, { ...reading, as: "archive" })).body;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new VerificationFailedError(`artifact missing: no stored object ${backup.backupKey}`);
    // The key is gone or unusable: no retry brings it back.
    if (error instanceof ArtifactKeyError) throw new VerificationFailedError(error.message, { cause: error });
    throw new StorageError(error);
  }
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      onBytes?.(bytes);
      done(null, chunk);
    },
  });
  body.once("error", (error) => counted.destroy(error instanceof ArtifactChecksumError ? new VerificationFailedError(error.message) : error));
  return body.pipe(counted);
}

/**
 * What age or zstd exiting non-zero says about an artifact (a killed one says nothing about it:
 * the caller passes only exits with a code). Stored bytes that changed since they were recorded
 * are the cause, whatever age (a changed header even reads as a wrong key) or zstd made of them:
 * a checksum mismatch. Otherwise the key does not match, or the bytes were undecodable as stored.
 */
export async function decodingFailure(storage: ArtifactStorage, backup: ArtifactRef, error: StageFailedError): Promise<VerificationFailedError> {
  try {
    await checkStored(storage, backup);
  } catch (checked) {
    if (checked instanceof ArtifactChecksumError) return new VerificationFailedError(checked.message, { cause: error });
  }
  if (error instanceof ArtifactKeyMismatchError) return new VerificationFailedError(error.message, { cause: error });
  return new VerificationFailedError(`artifact does not ${error.purpose === "decryption" ? "decrypt" : "decompress"}: ${error.message}`, { cause: error });
}

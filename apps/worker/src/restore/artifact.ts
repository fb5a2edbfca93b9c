// Opening a backup's artifact for pg_restore (restores, and verification's copy). It goes through the one artifact reader
// (@capy/artifact's openArtifact: the stored bytes hashed against the backup's SHA-256,
// decrypted when stored encrypted, decompressed when stored compressed), so a change of storage
// format stays there; this maps its failures to the worker's error types and counts the bytes
// for progress.
import { PassThrough, type Readable, Transform } from "node:stream";
import {
  ArtifactChecksumError,
  ArtifactKeyError,
  decodingFailureMessage,
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
export type ArtifactReading = Omit<OpenOptions, "as" | "intoFile">;

export async function openRestoreStream(storage: ArtifactStorage, backup: ArtifactRef, reading: ArtifactReading, onBytes?: OnBytes): Promise<Readable> {
  const body = await openMapped(storage, backup, { ...reading, as: "archive" });
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      onBytes?.(bytes);
      done(null, chunk);
    },
  });
  return through(body, counted);
}

/**
 * The archive written into the new file `file` by the reader's last stage (zstd decodes straight
 * into it, the decoded bytes never pass through this process): a stream that carries no bytes
 * and ends once the file is complete, failing like openRestoreStream's.
 */
export async function openRestoreFile(storage: ArtifactStorage, backup: ArtifactRef, reading: ArtifactReading, file: string): Promise<Readable> {
  const body = await openMapped(storage, backup, { ...reading, as: "archive", intoFile: file });
  return through(body, new PassThrough());
}

async function openMapped(storage: ArtifactStorage, backup: ArtifactRef, options: OpenOptions): Promise<Readable> {
  try {
    return (await openArtifact(storage, backup, options)).body;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new VerificationFailedError(`artifact missing: no stored object ${backup.backupKey}`);
    // The key is gone or unusable: no retry brings it back.
    if (error instanceof ArtifactKeyError) throw new VerificationFailedError(error.message, { cause: error });
    throw new StorageError(error);
  }
}

/** `body` piped through `stage`, failing with the worker's errors (a checksum mismatch is a verdict on the artifact). */
function through(body: Readable, stage: Transform): Readable {
  body.once("error", (error) => stage.destroy(error instanceof ArtifactChecksumError ? new VerificationFailedError(error.message) : error));
  // A reader that gives up (an abort) stops the read behind it, age and zstd included.
  stage.once("close", () => body.destroy());
  return body.pipe(stage);
}

/** What age or zstd exiting non-zero says about an artifact (@capy/artifact's decodingFailureMessage). */
export async function decodingFailure(storage: ArtifactStorage, backup: ArtifactRef, error: StageFailedError): Promise<VerificationFailedError> {
  return new VerificationFailedError(await decodingFailureMessage(storage, backup, error), { cause: error });
}

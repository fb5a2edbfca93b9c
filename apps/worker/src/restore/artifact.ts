// Opening a backup's artifact for pg_restore (restores, and verification's copy). It goes through the one artifact reader
// (@capy/artifact's openArtifact: the stored bytes hashed against the backup's SHA-256,
// decompressed when stored compressed), so a change of storage format stays there; this maps its
// failures to the worker's error types and counts the bytes for progress.
import { type Readable, Transform } from "node:stream";
import { ArtifactChecksumError, openArtifact, type StoredArtifact } from "@capy/artifact";
import { type ArtifactStorage, ObjectNotFoundError } from "@capy/storage";
import { StorageError, VerificationFailedError } from "../failures/errors.js";

export type ArtifactRef = StoredArtifact;

/** Called with the total archive bytes read so far (progress). */
export type OnBytes = (bytes: number) => void;

/** `zstd`: absolute path of the binary, needed for zstd artifacts. */
export async function openRestoreStream(storage: ArtifactStorage, backup: ArtifactRef, zstd: string | null, onBytes?: OnBytes): Promise<Readable> {
  let body: Readable;
  try {
    body = (await openArtifact(storage, backup, { as: "archive", zstd })).body;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new VerificationFailedError(`artifact missing: no stored object ${backup.backupKey}`);
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

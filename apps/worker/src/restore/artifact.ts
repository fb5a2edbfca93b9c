// Opening a backup's artifact for pg_restore (restores, and verification's copy). It goes through the one artifact reader
// (@capy/artifact's openArtifact: the stored bytes hashed against the backup's SHA-256,
// decompressed when stored compressed), so a change of storage format stays there; this maps its
// failures to the worker's error types and counts the bytes for progress.
import { type Readable, Transform } from "node:stream";
import { ArtifactChecksumError, type OpenOptions, openArtifact, type StoredArtifact } from "@capy/artifact";
import { type ArtifactStorage, ObjectNotFoundError } from "@capy/storage";
import { StorageError, VerificationFailedError } from "../failures/errors.js";

export type ArtifactRef = StoredArtifact;

/** Called with the total archive bytes read so far (progress). */
export type OnBytes = (bytes: number) => void;

/** `zstd`: absolute path of the binary, needed for zstd artifacts. */
export async function openRestoreStream(storage: ArtifactStorage, backup: ArtifactRef, zstd: string | null, onBytes?: OnBytes): Promise<Readable> {
  const body = await openMapped(storage, backup, { as: "archive", zstd });
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
export async function openRestoreFile(storage: ArtifactStorage, backup: ArtifactRef, zstd: string | null, file: string): Promise<Readable> {
  const body = await openMapped(storage, backup, { as: "archive", zstd, intoFile: file });
  return through(body, new Transform({ transform: (_chunk, _encoding, next) => next() }));
}

async function openMapped(storage: ArtifactStorage, backup: ArtifactRef, options: OpenOptions): Promise<Readable> {
  try {
    return (await openArtifact(storage, backup, options)).body;
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new VerificationFailedError(`artifact missing: no stored object ${backup.backupKey}`);
    throw new StorageError(error);
  }
}

/** `body` piped through `stage`, failing with the worker's errors (a checksum mismatch is a verdict on the artifact). */
function through(body: Readable, stage: Transform): Readable {
  body.once("error", (error) => stage.destroy(error instanceof ArtifactChecksumError ? new VerificationFailedError(error.message) : error));
  // A reader that gives up (an abort) stops the read behind it, zstd included.
  stage.once("close", () => body.destroy());
  return body.pipe(stage);
}

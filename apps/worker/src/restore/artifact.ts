// Opening a backup's artifact for pg_restore (restores, and verification's copy). ONE function, so
// that the storage format of artifacts (issue 16: compression) can change here alone: it returns
// the bytes pg_restore reads, and fails the stream at its end unless the stored object hashes to
// the backup's SHA-256.
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import { ObjectNotFoundError, type ArtifactStorage } from "@capy/storage";
import { StorageError, VerificationFailedError } from "../failures/errors.js";

export interface ArtifactRef {
  backupKey: string;
  sha256: string;
}

/** Called with the total bytes read so far (progress). */
export type OnBytes = (bytes: number) => void;

export async function openRestoreStream(storage: ArtifactStorage, backup: ArtifactRef, onBytes?: OnBytes): Promise<Readable> {
  let body: Readable;
  try {
    body = await storage.get(backup.backupKey);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) throw new VerificationFailedError(`artifact missing: no stored object ${backup.backupKey}`);
    throw new StorageError(error);
  }
  const hash = createHash("sha256");
  let bytes = 0;
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      done(null, chunk);
    },
    flush(done) {
      const actual = hash.digest("hex");
      done(actual === backup.sha256.toLowerCase() ? null : new VerificationFailedError(`artifact checksum mismatch: expected ${backup.sha256}, stored object hashes to ${actual} (${bytes} bytes)`));
    },
  });
  body.once("error", (error) => checked.destroy(new StorageError(error)));
  return body.pipe(checked);
}

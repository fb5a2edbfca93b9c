// The reader's decryption stage (read.ts): an artifact recorded as encrypted with age is
// decrypted with the identity of the platform key its row names, looked up by the caller (the
// keys live in the metadata database, which this package does not know). Every way the key can
// be wrong fails with a message naming the key, never with garbage: the row names no key, the
// key is gone, it cannot be opened, or it is not among the artifact's recipients.
import { AGE_NO_MATCH, type AgeTools, ageDecryptStage } from "./age.js";
import { type ChildStage, StageFailedError } from "./child-stage.js";

/** The identity (AGE-SECRET-KEY-1…) of platform key `keyId`; null when there is no such key. */
export type IdentityLookup = (keyId: string) => Promise<string | null>;

export interface DecryptOptions {
  /** age and mkfifo (resolveAge), for encrypted artifacts read as archives. */
  age?: AgeTools | null | undefined;
  identity?: IdentityLookup | undefined;
}

/** The key an encrypted artifact needs is missing or unusable (found before any byte is read). */
export class ArtifactKeyError extends Error {
  override readonly name = "ArtifactKeyError";

  constructor(
    readonly keyId: string | null,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * age found no recipient stanza its identity opens: the artifact was encrypted to other keys,
 * or its header changed (the caller tells the two apart with checkStored, as for any failure).
 */
export class ArtifactKeyMismatchError extends StageFailedError {
  override readonly name = "ArtifactKeyMismatchError";

  constructor(
    readonly keyId: string,
    failure: StageFailedError,
  ) {
    super(failure.command, failure.purpose, failure.exitCode, failure.signal, failure.stderrTail);
    this.message = `artifact is encrypted to key ${keyId} which does not match any of its recipients (age: ${AGE_NO_MATCH})`;
  }
}

/** A started `age -d` stage for `artifact` (recorded key `keyId`); throws ArtifactKeyError. */
export async function decryptionStage(backupKey: string, keyId: string | null, options: DecryptOptions): Promise<ChildStage> {
  if (keyId === null) throw new ArtifactKeyError(null, `artifact ${backupKey} is encrypted (age) but its backup records no encryption key`);
  if (!options.age || !options.identity) throw new Error("reading an encrypted artifact needs the age binary and the key lookup");
  let identity: string | null;
  try {
    identity = await options.identity(keyId);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ArtifactKeyError(keyId, `artifact is encrypted to key ${keyId} which cannot be opened: ${reason}`, { cause: error });
  }
  if (identity === null) throw new ArtifactKeyError(keyId, `artifact is encrypted to key ${keyId} which no longer exists`);
  return ageDecryptStage(options.age, identity, (failure) =>
    failure.stderrTail.includes(AGE_NO_MATCH) ? new ArtifactKeyMismatchError(keyId, failure) : failure,
  );
}

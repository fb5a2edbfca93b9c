// The key lookup every reader of encrypted artifacts uses (@capy/artifact's IdentityLookup):
// workers verifying and restoring, and the API's download. A platform key whose row is gone
// gives null, so the reader can say "which no longer exists"; a keyring that cannot open the
// sealed identity throws its own message (naming key ids and variables, never a value).
import { type Db, EncryptionKeyNotFoundError, type Keyring, openEncryptionIdentity } from "@capy/db";

export function encryptionIdentityLookup(db: Db, keyring: Keyring | undefined): (keyId: string) => Promise<string | null> {
  return async (keyId) => {
    if (!keyring) throw new Error("CAPY_ENCRYPTION_KEY is not set, so the sealed identity cannot be opened");
    try {
      return await openEncryptionIdentity(db, keyring, keyId);
    } catch (error) {
      if (error instanceof EncryptionKeyNotFoundError) return null;
      throw error;
    }
  };
}

// AES-256-GCM for secrets at rest (32-byte keys, 64 hex characters). The Keyring (keyring.ts)
// is the interface the rest of the code uses; this module holds the cipher itself and the
// first stored form, "v1:<iv b64>:<tag b64>:<ciphertext b64>", which carries no key id.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const IV_BYTES = 12;
export const HEX_KEY = /^[0-9a-fA-F]{64}$/;

export function keyBytes(hexKey: string): Buffer {
  if (!HEX_KEY.test(hexKey)) throw new Error("CAPY_ENCRYPTION_KEY must be 64 hex characters");
  return Buffer.from(hexKey, "hex");
}

/** The three base64 parts of a sealed secret; `aad` binds the header (version, key id) to it. */
export function gcmSeal(plaintext: string, key: Buffer, aad?: string): string[] {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  if (aad !== undefined) cipher.setAAD(Buffer.from(aad, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [iv.toString("base64"), cipher.getAuthTag().toString("base64"), ciphertext.toString("base64")];
}

/** Throws when the key is wrong or the parts were tampered with (GCM authentication). */
export function gcmOpen(parts: string[], key: Buffer, aad?: string): string {
  const [iv, tag, ciphertext] = parts;
  if (parts.length !== 3 || !iv || !tag || ciphertext === undefined) throw new Error("unrecognised secret format");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64"));
  if (aad !== undefined) decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(Buffer.from(tag, "base64"));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString("utf8");
}

/** The v1 form (no key id). Only the Keyring's compatibility path and tests of it still use it. */
export function encryptSecret(plaintext: string, hexKey: string): string {
  return ["v1", ...gcmSeal(plaintext, keyBytes(hexKey))].join(":");
}

export function generateEncryptionKey(): string {
  return randomBytes(32).toString("hex");
}

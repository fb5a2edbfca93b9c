// The keyring for secrets at rest: the current key (CAPY_ENCRYPTION_KEY) seals every new
// secret; older keys (CAPY_ENCRYPTION_KEYS_OLD) still open what they sealed until
// `admin rotate-encryption-key` has re-sealed it under the current one.
//
// Stored form: "v2:<key id>:<iv b64>:<tag b64>:<ciphertext b64>", the header bound to the
// ciphertext as GCM additional data. A key id is the first 8 hex characters of the SHA-256 of
// the key's bytes, so ids need no configuration and reveal nothing usable about the key.
// The older "v1:<iv>:<tag>:<ciphertext>" form (no id) still opens: each key is tried in turn.
import { createHash } from "node:crypto";
import { gcmOpen, gcmSeal, HEX_KEY, keyBytes } from "./crypto.js";

/** A secret that no key of this keyring opens; the message names the variables, never a secret. */
export class KeyringError extends Error {}

export function keyId(hexKey: string): string {
  return createHash("sha256").update(keyBytes(hexKey)).digest("hex").slice(0, 8);
}

export class Keyring {
  /** Id of the current key: every seal uses it. */
  readonly currentKeyId: string;
  /** Every key by id, the current one first. */
  private readonly keys: Map<string, Buffer>;

  constructor(currentKey: string, oldKeys: readonly string[] = []) {
    this.currentKeyId = keyId(currentKey);
    this.keys = new Map([[this.currentKeyId, keyBytes(currentKey)]]);
    for (const key of oldKeys) {
      const id = keyId(key);
      if (!this.keys.has(id)) this.keys.set(id, keyBytes(key));
    }
  }

  /** Ids of every key, the current one first. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  seal(plaintext: string): string {
    const header = `v2:${this.currentKeyId}`;
    return [header, ...gcmSeal(plaintext, this.keys.get(this.currentKeyId)!, header)].join(":");
  }

  /** The plaintext; throws KeyringError when no key of this keyring sealed `stored`. */
  open(stored: string): string {
    const [version, id, ...parts] = stored.split(":");
    if (version === "v2" && id !== undefined) return this.openV2(id, parts);
    if (version === "v1" && id !== undefined) return this.openV1([id, ...parts]);
    throw new KeyringError("unrecognised secret format");
  }

  /** True unless `stored` is already sealed under the current key in the current form. */
  needsReseal(stored: string): boolean {
    return sealedKeyId(stored) !== this.currentKeyId;
  }

  private openV2(id: string, parts: string[]): string {
    const key = this.keys.get(id);
    if (!key) {
      throw new KeyringError(`sealed under key ${id}, which is neither CAPY_ENCRYPTION_KEY (key ${this.currentKeyId}) nor in CAPY_ENCRYPTION_KEYS_OLD`);
    }
    try {
      return gcmOpen(parts, key, `v2:${id}`);
    } catch {
      // GCM only says "unable to authenticate data": the value was altered, or ids collided.
      throw new KeyringError(`sealed under key ${id}, but that key does not open it (altered value?)`);
    }
  }

  private openV1(parts: string[]): string {
    for (const key of this.keys.values()) {
      try {
        return gcmOpen(parts, key);
      } catch {
        // Not this key: try the next one.
      }
    }
    throw new KeyringError(`sealed (without a key id) under a key that is neither CAPY_ENCRYPTION_KEY nor in CAPY_ENCRYPTION_KEYS_OLD`);
  }
}

/** The key id a stored secret names; null for the v1 form (no id) or an unknown form. */
export function sealedKeyId(stored: string): string | null {
  const [version, id] = stored.split(":");
  return version === "v2" && id !== undefined ? id : null;
}

/**
 * The keyring of a process's configuration: undefined when no current key is configured
 * (secrets then cannot be sealed or opened; jobs needing one fail naming the variable).
 * `oldKeys` is CAPY_ENCRYPTION_KEYS_OLD as written: comma-separated, blanks ignored.
 * Throws a message naming the variable at fault.
 */
export function keyringFromSettings(currentKey: string | undefined, oldKeys: string | undefined): Keyring | undefined {
  const old = (oldKeys ?? "")
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "");
  const bad = old.findIndex((key) => !HEX_KEY.test(key));
  if (bad >= 0) throw new Error(`CAPY_ENCRYPTION_KEYS_OLD: key ${bad + 1} is not 64 hex characters`);
  if (currentKey === undefined) {
    if (old.length > 0) throw new Error("CAPY_ENCRYPTION_KEYS_OLD: set CAPY_ENCRYPTION_KEY too (the current key)");
    return undefined;
  }
  if (!HEX_KEY.test(currentKey)) throw new Error("CAPY_ENCRYPTION_KEY: must be 64 hex characters");
  return new Keyring(currentKey, old);
}

/** True when `keyring` opens `stored` (false without a keyring). */
export function opensWith(keyring: Keyring | undefined, stored: string): boolean {
  if (keyring === undefined) return false;
  try {
    keyring.open(stored);
    return true;
  } catch {
    return false;
  }
}

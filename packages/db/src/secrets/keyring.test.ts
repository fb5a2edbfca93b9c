import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encryptSecret, generateEncryptionKey } from "./crypto.js";
import { Keyring, KeyringError, keyId, keyringFromSettings, opensWith } from "./keyring.js";

const [keyA, keyB, keyC] = [generateEncryptionKey(), generateEncryptionKey(), generateEncryptionKey()] as [string, string, string];
const SECRET = "s3cr3t-pässword:with:colons";

describe("Keyring", () => {
  it("seals under the current key, naming its id (first 8 hex of the key's SHA-256)", () => {
    const ring = new Keyring(keyA, [keyB]);
    const id = createHash("sha256").update(Buffer.from(keyA, "hex")).digest("hex").slice(0, 8);
    expect(ring.currentKeyId).toBe(id);
    expect(keyId(keyA)).toBe(id);
    const sealed = ring.seal(SECRET);
    expect(sealed).toMatch(new RegExp(`^v2:${id}:[^:]+:[^:]+:[^:]+$`));
    expect(sealed).not.toContain(SECRET);
    expect(ring.seal(SECRET)).not.toBe(sealed);
    expect(ring.open(sealed)).toBe(SECRET);
    expect(ring.needsReseal(sealed)).toBe(false);
  });

  it("opens what an older key sealed while that key is in CAPY_ENCRYPTION_KEYS_OLD, and not once it is removed", () => {
    const sealedUnderA = new Keyring(keyA).seal(SECRET);
    const rotated = new Keyring(keyB, [keyA]);
    expect(rotated.open(sealedUnderA)).toBe(SECRET);
    expect(rotated.needsReseal(sealedUnderA)).toBe(true);

    const withoutA = new Keyring(keyB);
    expect(() => withoutA.open(sealedUnderA)).toThrow(KeyringError);
    expect(() => withoutA.open(sealedUnderA)).toThrow(
      `sealed under key ${keyId(keyA)}, which is neither CAPY_ENCRYPTION_KEY (key ${keyId(keyB)}) nor in CAPY_ENCRYPTION_KEYS_OLD`,
    );
    expect(opensWith(withoutA, sealedUnderA)).toBe(false);
    expect(opensWith(undefined, sealedUnderA)).toBe(false);
  });

  it("opens the v1 form (no key id) with whichever key sealed it, and always asks for a re-seal", () => {
    const v1 = encryptSecret(SECRET, keyA);
    expect(v1.startsWith("v1:")).toBe(true);
    expect(new Keyring(keyB, [keyC, keyA]).open(v1)).toBe(SECRET);
    expect(new Keyring(keyA).needsReseal(v1)).toBe(true);
    expect(() => new Keyring(keyB, [keyC]).open(v1)).toThrow(/without a key id.*CAPY_ENCRYPTION_KEY.*CAPY_ENCRYPTION_KEYS_OLD/);
  });

  it("refuses altered values: another key id in the header, a changed ciphertext, an unknown form", () => {
    const ring = new Keyring(keyA, [keyB]);
    const [, , iv, tag, ct] = ring.seal(SECRET).split(":");
    expect(() => ring.open(["v2", keyId(keyB), iv, tag, ct].join(":"))).toThrow(/does not open it/);
    const flipped = Buffer.from(ct!, "base64");
    flipped[0]! ^= 1;
    expect(() => ring.open(["v2", keyId(keyA), iv, tag, flipped.toString("base64")].join(":"))).toThrow(KeyringError);
    expect(() => ring.open("plaintext")).toThrow(/unrecognised secret format/);
  });
});

describe("keyringFromSettings", () => {
  it("reads the current key and comma-separated older ones, ignoring blanks and repeats", () => {
    expect(keyringFromSettings(keyA, ` ${keyB},,${keyC}, ${keyA}`)?.keyIds).toEqual([keyA, keyB, keyC].map(keyId));
    expect(keyringFromSettings(undefined, undefined)).toBeUndefined();
    expect(keyringFromSettings(undefined, "")).toBeUndefined();
  });

  it("names the variable at fault", () => {
    expect(() => keyringFromSettings(keyA, `${keyB},xyz`)).toThrow("CAPY_ENCRYPTION_KEYS_OLD: key 2 is not 64 hex characters");
    expect(() => keyringFromSettings(undefined, keyB)).toThrow(/CAPY_ENCRYPTION_KEYS_OLD: set CAPY_ENCRYPTION_KEY too/);
    expect(() => keyringFromSettings("short", undefined)).toThrow(/CAPY_ENCRYPTION_KEY: must be 64 hex characters/);
  });
});

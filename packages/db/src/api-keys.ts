// API key format: "capy_live_" + 32 base62 characters (~190 random bits) + 6 base62 characters
// of CRC-32 checksum over the random part. The checksum lets the API reject a mistyped or
// malformed key without a database lookup; only the SHA-256 of the whole key is stored.
import { createHash, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

export const API_KEY_PREFIX = "capy_live_";
const BODY_LENGTH = 32;
const CHECKSUM_LENGTH = 6;
const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_PATTERN = new RegExp(`^${API_KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH + CHECKSUM_LENGTH}}$`);
/** Characters of the key kept for display ("capy_live_AbCd"). */
const DISPLAY_PREFIX_LENGTH = API_KEY_PREFIX.length + 4;

function base62(value: number, width: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(body), CHECKSUM_LENGTH);
}

export interface MintedApiKey {
  plaintext: string;
  hash: string;
  displayPrefix: string;
}

export function mintApiKey(): MintedApiKey {
  // Rejection sampling keeps every base62 character uniform (248 = 4 * 62).
  let body = "";
  while (body.length < BODY_LENGTH) {
    for (const byte of randomBytes(BODY_LENGTH)) {
      if (byte < 248 && body.length < BODY_LENGTH) body += ALPHABET[byte % 62];
    }
  }
  const plaintext = `${API_KEY_PREFIX}${body}${checksum(body)}`;
  return { plaintext, hash: hashApiKey(plaintext), displayPrefix: plaintext.slice(0, DISPLAY_PREFIX_LENGTH) };
}

export function hashApiKey(plaintext: string): string {
  return createHash("sha256").update(plaintext).digest("hex");
}

/** True when the key has our shape and its checksum matches; no database needed. */
export function isWellFormedApiKey(candidate: string): boolean {
  if (!KEY_PATTERN.test(candidate)) return false;
  const body = candidate.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + BODY_LENGTH);
  return candidate.slice(API_KEY_PREFIX.length + BODY_LENGTH) === checksum(body);
}

// Keys for encrypted artifacts (age v1, X25519). Each project has platform key pairs: the current
// one (retired_at null) is what new artifacts are encrypted to, retired ones stay to decrypt older
// artifacts (each backup records its key id; nothing is re-encrypted on rotation). Identities
// ("AGE-SECRET-KEY-1…") are sealed by the keyring and opened only to decrypt. A project may add
// its own recipients (public keys); every new artifact is encrypted to them too, so the customer
// can decrypt a download without us.
//
// Keys are made with the npm `age-encryption` package; the data path uses the `age` binary
// (@capy/artifact), which reads the same formats.
import { createHash } from "node:crypto";
import { Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import type { Db } from "./client.js";
import type { Prisma } from "./generated/prisma/client.js";
import { newId } from "./ids.js";
import { type Keyring, opensWith } from "./secrets/keyring.js";

type Tx = Prisma.TransactionClient;

export interface EncryptionTargets {
  keyId: string;
  /** The platform key's recipient first, then every customer recipient (oldest first). */
  recipients: string[];
}

export interface PlatformKey {
  id: string;
  publicKey: string;
  createdAt: Date;
}

/** No platform key has this id (or it belongs to no project any more). */
export class EncryptionKeyNotFoundError extends Error {}

/** A public key that is not an age X25519 recipient; the message says what is expected. */
export class InvalidRecipientError extends Error {}

const KEY_FIELDS = { id: true, publicKey: true, createdAt: true } as const;

/** The project's current platform key (created when it has none; race-safe) plus every customer recipient. */
export async function encryptionTargets(db: Db, keyring: Keyring, projectId: string): Promise<EncryptionTargets> {
  const [current, customers] = await Promise.all([
    db.projectEncryptionKey.findFirst({ where: { projectId, retiredAt: null }, select: KEY_FIELDS }),
    db.encryptionRecipient.findMany({ where: { projectId }, orderBy: [{ createdAt: "asc" }, { id: "asc" }], select: { publicKey: true } }),
  ]);
  const key = current ?? (await ensureCurrentEncryptionKey(db, keyring, projectId));
  return { keyId: key.id, recipients: [key.publicKey, ...customers.map((r) => r.publicKey)] };
}

/** The identity (AGE-SECRET-KEY-1…) of platform key `keyId`, opened by the keyring. Throws EncryptionKeyNotFoundError if no such key. */
export async function openEncryptionIdentity(db: Db, keyring: Keyring, keyId: string): Promise<string> {
  const key = await db.projectEncryptionKey.findUnique({ where: { id: keyId }, select: { privateKeyEncrypted: true } });
  if (!key) throw new EncryptionKeyNotFoundError(`encryption key ${keyId} does not exist`);
  return keyring.open(key.privateKeyEncrypted);
}

/** Makes a new current platform key for new artifacts and retires the previous one (kept to decrypt older artifacts). */
export async function rotateProjectEncryptionKey(db: Db, keyring: Keyring, projectId: string): Promise<PlatformKey> {
  const sealed = await newSealedKey(keyring);
  return db.$transaction(async (tx) => {
    await lockProjectKeys(tx, projectId);
    await tx.projectEncryptionKey.updateMany({ where: { projectId, retiredAt: null }, data: { retiredAt: new Date() } });
    return tx.projectEncryptionKey.create({ data: { id: newId("enk"), projectId, ...sealed }, select: KEY_FIELDS });
  });
}

/** The project's current key, created under the project's key lock unless another caller created it first. */
export async function ensureCurrentEncryptionKey(db: Db, keyring: Keyring, projectId: string): Promise<PlatformKey> {
  const sealed = await newSealedKey(keyring);
  return db.$transaction(async (tx) => {
    await lockProjectKeys(tx, projectId);
    const current = await tx.projectEncryptionKey.findFirst({ where: { projectId, retiredAt: null }, select: KEY_FIELDS });
    return current ?? tx.projectEncryptionKey.create({ data: { id: newId("enk"), projectId, ...sealed }, select: KEY_FIELDS });
  });
}

/**
 * Re-keys a project whose platform keys the keyring cannot open (sealed under a CAPY key that is
 * gone, as when a second clone of the demo brings its own key): a current key that does not open
 * is retired for a new one, so new artifacts stay decryptable; retired keys that do not open and
 * that no backup was encrypted to are deleted, since nothing can ever use them. Keys that backups
 * were encrypted to stay: those backups need their CAPY key back (CAPY_ENCRYPTION_KEYS_OLD).
 */
export async function replaceUnopenableEncryptionKeys(db: Db, keyring: Keyring, projectId: string): Promise<void> {
  const keys = await db.projectEncryptionKey.findMany({ where: { projectId }, select: { id: true, privateKeyEncrypted: true, retiredAt: true } });
  const unopenable = keys.filter((key) => !opensWith(keyring, key.privateKeyEncrypted));
  if (unopenable.some((key) => key.retiredAt === null)) await rotateProjectEncryptionKey(db, keyring, projectId);
  const ids = unopenable.map((key) => key.id);
  if (ids.length > 0) await db.projectEncryptionKey.deleteMany({ where: { id: { in: ids }, backups: { none: {} } } });
}

/**
 * Serialises key creation and rotation of one project until the caller's transaction ends. (The
 * partial unique index project_encryption_keys_one_current is the backstop: even without this
 * lock a project can never hold two current keys; with it, no caller sees that violation.)
 */
async function lockProjectKeys(tx: Tx, projectId: string): Promise<void> {
  // 64-bit hash of a namespaced key; a collision only serialises two projects' key changes.
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`capy:encryption-keys:${projectId}`}, 0))::text AS locked`;
}

async function newSealedKey(keyring: Keyring): Promise<{ publicKey: string; privateKeyEncrypted: string }> {
  const identity = await generateX25519Identity();
  return { publicKey: await identityToRecipient(identity), privateKeyEncrypted: keyring.seal(identity) };
}

// age1 + 58 lower-case Bech32 characters: a 32-byte X25519 public key and its checksum.
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

/** What a recipient must look like, for error messages. */
export const RECIPIENT_EXPECTED = "an age X25519 public key: age1 followed by 58 lower-case characters, as printed by `age-keygen`";

/**
 * The recipient, trimmed, when it is an age X25519 public key with a valid checksum; throws
 * InvalidRecipientError otherwise. Post-quantum (age1pq1…) and plugin recipients are refused:
 * the `age` 1.1 binary that encrypts artifacts does not know them.
 */
export function parseAgeRecipient(input: string): string {
  const recipient = input.trim();
  if (!X25519_RECIPIENT.test(recipient)) throw new InvalidRecipientError(`public_key must be ${RECIPIENT_EXPECTED}`);
  try {
    new Encrypter().addRecipient(recipient);
  } catch {
    throw new InvalidRecipientError(`public_key is not a valid age recipient (bad checksum?); expected ${RECIPIENT_EXPECTED}`);
  }
  return recipient;
}

/** SHA-256 (hex) of the recipient string, to compare keys at a glance. */
export function recipientFingerprint(recipient: string): string {
  return createHash("sha256").update(recipient).digest("hex");
}

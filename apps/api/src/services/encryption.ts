// Encryption keys of a project's artifacts: the customer's own recipients (public keys every new
// artifact is also encrypted to) and the platform keys (public parts only: private keys are
// selected by nothing here, so no endpoint can return one). The caller has already checked the
// project is the principal's (findAccessibleProject).
import {
  type Db,
  type EncryptionRecipient,
  InvalidRecipientError,
  type Keyring,
  newId,
  type Prisma,
  type Project,
  parseAgeRecipient,
  recipientFingerprint,
  rotateProjectEncryptionKey,
} from "@capy/db";
import { AppError } from "../errors.js";

/** Recipients per project: each adds a header stanza to every artifact and an argument to `age`. */
export const MAX_RECIPIENTS_PER_PROJECT = 20;

/** A platform key's public part: its columns but the sealed identity. */
export const PUBLIC_KEY_FIELDS = { id: true, projectId: true, publicKey: true, createdAt: true, retiredAt: true } as const;
export type PublicPlatformKey = Prisma.ProjectEncryptionKeyGetPayload<{ select: typeof PUBLIC_KEY_FIELDS }>;

/** Oldest first, the order artifacts list them in after the platform key. */
export function listRecipients(db: Db, project: Project): Promise<EncryptionRecipient[]> {
  return db.encryptionRecipient.findMany({ where: { projectId: project.id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
}

export async function addRecipient(db: Db, project: Project, label: string, publicKey: string): Promise<EncryptionRecipient> {
  const recipient = parseRecipient(publicKey);
  const existing = await db.encryptionRecipient.findMany({ where: { projectId: project.id }, select: { id: true, publicKey: true } });
  const duplicate = existing.find((row) => row.publicKey === recipient);
  if (duplicate) throw new AppError("CONFLICT", `public_key is already recipient ${duplicate.id} of this project`);
  if (existing.length >= MAX_RECIPIENTS_PER_PROJECT) {
    throw new AppError("CONFLICT", `a project has at most ${MAX_RECIPIENTS_PER_PROJECT} encryption recipients; remove one first`);
  }
  const [created] = await db.encryptionRecipient.createManyAndReturn({
    data: [{ id: newId("rcp"), projectId: project.id, label, publicKey: recipient, fingerprint: recipientFingerprint(recipient) }],
    // The same key added concurrently: (project_id, public_key) is unique, and the loser adds nothing.
    skipDuplicates: true,
  });
  if (!created) throw new AppError("CONFLICT", "public_key is already a recipient of this project");
  return created;
}

/** Deletes the recipient and answers it as it was; new artifacts are no longer encrypted to it (older ones still are). */
export async function removeRecipient(db: Db, project: Project, recipientId: string): Promise<EncryptionRecipient> {
  const recipient = await db.encryptionRecipient.findFirst({ where: { id: recipientId, projectId: project.id } });
  if (!recipient) throw new AppError("NOT_FOUND", "encryption recipient not found");
  // A concurrent removal makes this one a no-op.
  await db.encryptionRecipient.deleteMany({ where: { id: recipient.id } });
  return recipient;
}

/** Newest first: the current key, then the retired ones. */
export function listPlatformKeys(db: Db, project: Project): Promise<PublicPlatformKey[]> {
  return db.projectEncryptionKey.findMany({ where: { projectId: project.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], select: PUBLIC_KEY_FIELDS });
}

/** A new current platform key (the previous one is retired, kept to decrypt older artifacts). */
export async function rotatePlatformKey(db: Db, keyring: Keyring | undefined, project: Project): Promise<PublicPlatformKey> {
  if (!keyring) throw new AppError("SERVICE_UNAVAILABLE", "encryption keys cannot be stored: no encryption key (CAPY_ENCRYPTION_KEY) is configured");
  const key = await rotateProjectEncryptionKey(db, keyring, project.id);
  return { id: key.id, projectId: project.id, publicKey: key.publicKey, createdAt: key.createdAt, retiredAt: null };
}

function parseRecipient(publicKey: string): string {
  try {
    return parseAgeRecipient(publicKey);
  } catch (error) {
    if (error instanceof InvalidRecipientError) throw new AppError("BAD_REQUEST", error.message);
    throw error;
  }
}

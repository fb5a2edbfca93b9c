// Rows to the public shapes of @capy/contracts (see ../../serializers.ts): never a private key,
// which the platform key rows given here do not even hold.
import { type EncryptionKey, type EncryptionRecipient, isoTimestamp, isoTimestampOrNull } from "@capy/contracts";
import { type EncryptionRecipient as RecipientRow, recipientFingerprint } from "@capy/db";
import type { PublicPlatformKey } from "../../services/encryption.js";

export function serializeRecipient(recipient: RecipientRow): EncryptionRecipient {
  return {
    id: recipient.id,
    project_id: recipient.projectId,
    label: recipient.label,
    public_key: recipient.publicKey,
    fingerprint: recipient.fingerprint,
    created_at: isoTimestamp(recipient.createdAt),
  };
}

export function serializePlatformKey(key: PublicPlatformKey): EncryptionKey {
  return {
    id: key.id,
    project_id: key.projectId,
    public_key: key.publicKey,
    fingerprint: recipientFingerprint(key.publicKey),
    current: key.retiredAt === null,
    created_at: isoTimestamp(key.createdAt),
    retired_at: isoTimestampOrNull(key.retiredAt),
  };
}

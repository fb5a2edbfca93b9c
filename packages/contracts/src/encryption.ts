// Public shapes of encrypted artifacts' keys: a project's platform keys (public parts only, never
// a private key) and the customer's own recipients. Snake_case, absent values null.
import { z } from "zod";
import { Timestamp as timestamp } from "./timestamp.js";

const ageRecipient = z.string().describe("age X25519 public key (`age1…`)");
const fingerprint = z.string().describe("SHA-256 (hex) of public_key, to compare keys at a glance");

export const EncryptionRecipient = z
  .object({
    id: z.string().describe("`rcp_…`"),
    project_id: z.string(),
    label: z.string(),
    public_key: ageRecipient,
    fingerprint,
    created_at: timestamp,
  })
  .meta({ id: "EncryptionRecipient" });
export type EncryptionRecipient = z.infer<typeof EncryptionRecipient>;

export const EncryptionKey = z
  .object({
    id: z.string().describe("`enk_…`, recorded on each backup encrypted to it (encryption_key_id)"),
    project_id: z.string(),
    public_key: ageRecipient,
    fingerprint,
    current: z.boolean().describe("True for the key new artifacts are encrypted to; retired keys still decrypt older artifacts"),
    created_at: timestamp,
    retired_at: timestamp.nullable(),
  })
  .meta({ id: "EncryptionKey" });
export type EncryptionKey = z.infer<typeof EncryptionKey>;

// Public shapes of the security endpoints: API keys, the caller's principal (/v1/me) and audit
// events. Snake_case, absent values null, exactly as the REST API returns them.
import { z } from "zod";
import { Scope } from "./scopes.js";
import { Timestamp as timestamp } from "./timestamp.js";

export const ApiKey = z
  .object({
    id: z.string(),
    name: z.string(),
    /** Display prefix ("capy_live_AbCd"); never enough to use the key. */
    key_prefix: z.string(),
    organization_id: z.string(),
    project_id: z.string().nullable(),
    scopes: z.array(z.string()),
    is_active: z.boolean(),
    expires_at: timestamp.nullable(),
    revoked_at: timestamp.nullable(),
    last_used_at: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: "ApiKey" });
export type ApiKey = z.infer<typeof ApiKey>;

export const SESSION_ROLES = ["admin", "member"] as const;
export const SessionRole = z.enum(SESSION_ROLES);
export type SessionRole = z.infer<typeof SessionRole>;

export const PrincipalInfo = z
  .object({
    source: z.enum(["api_key", "session"]),
    organization_id: z.string(),
    project_id: z.string().nullable(),
    scopes: z.array(Scope),
    key_id: z.string().nullable(),
    user_id: z.string().nullable(),
    role: SessionRole.nullable(),
  })
  .meta({ id: "Principal" });
export type PrincipalInfo = z.infer<typeof PrincipalInfo>;

export const AUDIT_ACTIONS = [
  "api_key.created",
  "api_key.revoked",
  "backup.created",
  "backup.downloaded",
  "backup.deleted",
  "schedule.updated",
  "job.canceled",
  "restore.created",
  "preview.deleted",
  "preview.credentials_read",
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.redelivered",
  "encryption_recipient.created",
  "encryption_recipient.deleted",
  "encryption_key.rotated",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AuditEvent = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    project_id: z.string().nullable(),
    actor_type: z.enum(["api_key", "user", "system"]),
    actor_id: z.string(),
    action: z.string(),
    target_type: z.string(),
    target_id: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    created_at: timestamp,
  })
  .meta({ id: "AuditEvent" });
export type AuditEvent = z.infer<typeof AuditEvent>;

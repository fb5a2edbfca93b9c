// Webhook endpoints of an organization: creation (the secret is returned once and stored only
// sealed by the keyring), changes, rotation, deletion. Tenancy: the organization must be the
// principal's; a project-scoped key sees and manages only webhooks whose project_id is its
// project. Anything else is answered like a missing id (404).
import { WEBHOOK_EVENT_TYPES } from "@capy/contracts";
import { type Db, type Keyring, newId, type Webhook } from "@capy/db";
import { checkWebhookTarget, generateWebhookSecret, type TargetPolicy, TargetRefusedError } from "@capy/webhooks";
import { findAccessibleProject, tenantScope } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import type { WebhookSettings } from "../context.js";
import { AppError } from "../errors.js";

/** How long the previous secret keeps signing after a rotation (ms): 24 hours. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

/** Prisma `where` for the webhooks of `organizationId` the principal may see. */
export function webhookScope(principal: Principal, organizationId: string): { organizationId: string; projectId?: string } {
  if (principal.organizationId !== organizationId) throw new AppError("NOT_FOUND", "organization not found");
  return tenantScope(principal);
}

export function listWebhooks(db: Db, principal: Principal, organizationId: string): Promise<Webhook[]> {
  return db.webhook.findMany({ where: webhookScope(principal, organizationId), orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

export async function findWebhook(db: Db, principal: Principal, organizationId: string, webhookId: string): Promise<Webhook> {
  const webhook = await db.webhook.findFirst({ where: { id: webhookId, ...webhookScope(principal, organizationId) } });
  if (!webhook) throw new AppError("NOT_FOUND", "webhook not found");
  return webhook;
}

/** `["*"]`, or distinct known event types. */
export function normalizeEvents(events: readonly string[]): string[] {
  const distinct = [...new Set(events)];
  if (distinct.includes("*")) {
    if (distinct.length > 1) throw new AppError("BAD_REQUEST", 'events: "*" cannot be combined with other types');
    return ["*"];
  }
  const unknown = distinct.filter((type) => !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type));
  if (unknown.length > 0)
    throw new AppError("BAD_REQUEST", `events: unknown event type ${unknown.join(", ")} (known: ${WEBHOOK_EVENT_TYPES.join(", ")}, or "*")`);
  return distinct;
}

/** The URL, checked against the target policy (scheme, resolved addresses); 400 when refused. */
export async function checkUrl(url: string, policy: TargetPolicy): Promise<string> {
  try {
    return (await checkWebhookTarget(url, policy)).toString();
  } catch (error) {
    if (error instanceof TargetRefusedError) throw new AppError("BAD_REQUEST", error.message, { cause: error });
    throw error;
  }
}

function sealingKey(settings: WebhookSettings): Keyring {
  if (!settings.keyring) throw new AppError("SERVICE_UNAVAILABLE", "webhook secrets cannot be stored: no encryption key is configured");
  return settings.keyring;
}

export interface NewWebhook {
  url: string;
  events: string[];
  description: string | null;
  projectId: string | null;
}

export async function createWebhook(
  db: Db,
  settings: WebhookSettings,
  principal: Principal,
  organizationId: string,
  input: NewWebhook,
): Promise<{ webhook: Webhook; secret: string }> {
  webhookScope(principal, organizationId);
  // A project key's webhooks belong to its project, whether or not it says so.
  const projectId = input.projectId ?? principal.projectId;
  if (projectId !== null) await findAccessibleProject(settings.tenancy, principal, projectId);
  const events = normalizeEvents(input.events);
  const url = await checkUrl(input.url, settings.policy);
  const secret = generateWebhookSecret();
  const webhook = await db.webhook.create({
    data: { id: newId("whk"), organizationId, projectId, url, events, description: input.description, secretEncrypted: sealingKey(settings).seal(secret) },
  });
  return { webhook, secret };
}

export interface WebhookChanges {
  url?: string;
  events?: string[];
  description?: string | null;
  isActive?: boolean;
}

export async function updateWebhook(db: Db, settings: WebhookSettings, webhook: Webhook, changes: WebhookChanges): Promise<Webhook> {
  const data: Partial<Pick<Webhook, "url" | "events" | "description" | "isActive" | "health" | "failingSince">> = {};
  if (changes.url !== undefined) data.url = await checkUrl(changes.url, settings.policy);
  if (changes.events !== undefined) data.events = normalizeEvents(changes.events);
  if (changes.description !== undefined) data.description = changes.description;
  if (changes.isActive !== undefined) data.isActive = changes.isActive;
  // Re-activating (or pointing a disabled endpoint elsewhere) gives it a fresh start.
  if (changes.isActive === true || (changes.url !== undefined && webhook.health === "disabled")) Object.assign(data, { health: "healthy", failingSince: null });
  return db.webhook.update({ where: { id: webhook.id }, data });
}

/** Deletes the endpoint and its deliveries (a concurrent delete makes this one a no-op). */
export async function deleteWebhook(db: Db, webhook: Webhook): Promise<void> {
  await db.webhook.deleteMany({ where: { id: webhook.id } });
}

/**
 * What the audit log records of an endpoint's URL: its host only (URLs often carry a token in
 * their path or query, which the audit log's readers need not see).
 */
export function auditedTarget(webhook: Webhook): { host: string } {
  return { host: new URL(webhook.url).host };
}

/** A new secret; the previous one keeps signing for ROTATION_OVERLAP_MS. */
export async function rotateWebhookSecret(db: Db, settings: WebhookSettings, webhook: Webhook): Promise<{ webhook: Webhook; secret: string }> {
  const secret = generateWebhookSecret();
  const rotated = await db.webhook.update({
    where: { id: webhook.id },
    data: {
      secretEncrypted: sealingKey(settings).seal(secret),
      previousSecretEncrypted: webhook.secretEncrypted,
      previousSecretExpiresAt: new Date(Date.now() + ROTATION_OVERLAP_MS),
    },
  });
  return { webhook: rotated, secret };
}

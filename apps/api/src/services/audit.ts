// The audit log: one AuditEvent row per security-relevant action, written after the action
// succeeded. Actors are API key ids or user ids (sessions); never secrets. Metadata holds only
// non-secret facts (names, scopes, labels, settings). A failed audit write is logged and does not
// undo or fail the action it records.
import type { AuditAction } from "@capy/contracts";
import { type AuditEvent, type Db, newId } from "@capy/db";
import type { FastifyBaseLogger } from "fastify";
import { actorOf, type Principal } from "../auth/principal.js";

export interface AuditEntry {
  action: AuditAction;
  targetType: "api_key" | "backup" | "job" | "schedule" | "preview_database" | "webhook" | "webhook_delivery" | "encryption_recipient" | "encryption_key";
  targetId: string;
  projectId?: string | null;
  metadata?: Record<string, string | number | boolean | null | string[]>;
}

export interface AuditDeps {
  db: Db;
  log: FastifyBaseLogger;
}

/**
 * Raw INSERT (created_at: the column's default, now()): a POST .../backups writes one, and
 * Prisma's create compiled its query plan on every call (bench/api-throughput).
 */
export async function recordAudit({ db, log }: AuditDeps, principal: Principal, entry: AuditEntry): Promise<void> {
  const { actorType, actorId } = actorOf(principal);
  try {
    await db.$executeRaw`
      INSERT INTO audit_events (id, organization_id, project_id, actor_type, actor_id, action, target_type, target_id, metadata)
      VALUES (${newId("aud")}, ${principal.organizationId}, ${entry.projectId ?? null}, ${actorType}, ${actorId}, ${entry.action},
              ${entry.targetType}, ${entry.targetId}, ${JSON.stringify(entry.metadata ?? {})}::jsonb)`;
  } catch (err) {
    log.error({ err, action: entry.action, targetId: entry.targetId }, "audit event not recorded");
  }
}

/** Newest first; ids are ULIDs, so they break ties between equal timestamps. */
export function listAuditEvents(db: Db, organizationId: string, limit: number): Promise<AuditEvent[]> {
  return db.auditEvent.findMany({
    where: { organizationId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

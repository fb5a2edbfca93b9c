// The audit log: one AuditEvent row per security-relevant action, written after the action
// succeeded (recordAudit), or in the same statement as the action's row where one statement makes
// both (a requested backup job: auditRow). Actors are API key ids or user ids (sessions); never
// secrets. Metadata holds only non-secret facts (names, scopes, labels, settings). A failed
// audit write of its own is logged and does not undo or fail the action it records.
import type { AuditAction } from "@capy/contracts";
import { type AuditEvent, type Db, insertAuditEvent, type NewAuditRow, newId } from "@capy/db";
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

/** The audit event row of `entry` by `principal` (created_at: the insert's now()). */
export function auditRow(principal: Principal, entry: AuditEntry): NewAuditRow {
  return {
    id: newId("aud"),
    organizationId: principal.organizationId,
    projectId: entry.projectId ?? null,
    ...actorOf(principal),
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId,
    metadata: entry.metadata ?? {},
  };
}

/** One INSERT on Prisma's pool (@capy/db hot-paths): Prisma's create compiled its plan per call. */
export async function recordAudit({ db, log }: AuditDeps, principal: Principal, entry: AuditEntry): Promise<void> {
  try {
    await insertAuditEvent(db, auditRow(principal, entry));
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

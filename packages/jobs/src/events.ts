// The transactional outbox. An event is appended with the Prisma transaction client of the change
// it reports, so it exists exactly when that change committed. Appends serialise on one advisory
// lock held until their transaction ends: `seq` (bigserial) is then handed out in commit order,
// and a reader that pages by seq (the webhook dispatcher) never passes over an event that commits
// later with a lower seq. Appends therefore come LAST in their transaction (nothing slow after).
import { type Event, type EventData, type EventType, isoTimestamp } from "@capy/contracts";
import {
  type Backup as BackupRow,
  type Db,
  type Event as EventRow,
  type Job as JobRow,
  newId,
  type PreviewDatabase as PreviewRow,
  type Prisma,
} from "@capy/db";
import { serializeBackup, serializeJob, serializePreview } from "./serialize.js";

export type Tx = Prisma.TransactionClient;

/** pg_advisory_xact_lock key of event appends (an arbitrary constant, "capyevt" in ASCII). */
const APPEND_LOCK = 0x63617079657674n;

export interface EventScope {
  organizationId: string;
  projectId: string;
}

/**
 * Appends one event inside `tx`, the transaction of the change it reports. Refuses a client that
 * is not inside a transaction (its event would commit on its own).
 */
export async function appendEvent<T extends EventType>(tx: Tx, type: T, scope: EventScope, data: EventData<T>): Promise<EventRow> {
  if ("$transaction" in tx) throw new Error("appendEvent needs the transaction client of the change it reports");
  await tx.$queryRaw`SELECT pg_advisory_xact_lock(${APPEND_LOCK})::text AS locked`;
  return tx.event.create({
    data: { id: newId("evt"), type, organizationId: scope.organizationId, projectId: scope.projectId, data: data as Prisma.InputJsonValue },
  });
}

/** The job.<state> event of a job row that just reached a terminal state. */
export function appendJobEvent(tx: Tx, job: JobRow): Promise<EventRow> {
  const type = `job.${job.state}` as EventType;
  if (!["job.completed", "job.failed", "job.canceled"].includes(type)) throw new Error(`job ${job.id} is ${job.state}: no event for that`);
  return appendEvent(tx, type as "job.completed", job, serializeJob(job));
}

export type BackupEventType = "backup.completed" | "backup.verification_failed" | "backup.deleted";

export function appendBackupEvent(tx: Tx, type: BackupEventType, backup: BackupRow): Promise<EventRow> {
  return appendEvent(tx, type, backup, serializeBackup(backup));
}

/** preview.ready / preview.deleted: the preview as the API serves it after the change. */
export function appendPreviewEvent(tx: Tx, type: "preview.ready" | "preview.deleted", preview: PreviewRow): Promise<EventRow> {
  return appendEvent(tx, type, preview, serializePreview(preview));
}

export function serializeEvent(event: EventRow): Event {
  return {
    id: event.id,
    type: event.type as EventType,
    created_at: isoTimestamp(event.createdAt),
    organization_id: event.organizationId,
    project_id: event.projectId,
    data: event.data as unknown as Event["data"],
  };
}

export interface ListEventsOptions {
  limit: number;
  /** An event id of the project: only events committed after it. */
  after?: string | undefined;
}

/**
 * A project's events, newest first. With `after`, the `limit` events committed right after that
 * event (still newest first): a client catching up passes the newest id it has seen, again and
 * again, until a page comes back empty. Null when `after` names no event of the project.
 */
export async function listProjectEvents(db: Db, projectId: string, options: ListEventsOptions): Promise<EventRow[] | null> {
  if (options.after === undefined) {
    return db.event.findMany({ where: { projectId }, orderBy: { seq: "desc" }, take: options.limit });
  }
  const cursor = await db.event.findFirst({ where: { id: options.after, projectId }, select: { seq: true } });
  if (!cursor) return null;
  const page = await db.event.findMany({ where: { projectId, seq: { gt: cursor.seq } }, orderBy: { seq: "asc" }, take: options.limit });
  return page.reverse();
}

/** Every project's events after `seq`, in commit order (the webhook dispatcher's cursor). */
export function readEventsAfter(db: Db, seq: bigint, limit: number): Promise<EventRow[]> {
  return db.event.findMany({ where: { seq: { gt: seq } }, orderBy: { seq: "asc" }, take: limit });
}

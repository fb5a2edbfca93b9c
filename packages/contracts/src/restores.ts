// Restores and preview databases, the platform's shapes: the request body of
// POST /v1/projects/{id}/restores, the PreviewDatabase resource, preview credentials, and what a
// `restore` job row carries for its worker (`restoreOptions` in jobs.payload).
import { z } from "zod";

import { Timestamp as timestamp } from "./timestamp.js";

export const RESTORE_TARGET_KINDS = ["new_preview", "preview", "project"] as const;
export const RestoreTargetKind = z.enum(RESTORE_TARGET_KINDS);
export type RestoreTargetKind = z.infer<typeof RestoreTargetKind>;

export const PREVIEW_STATES = ["creating", "ready", "failed", "deleting", "deleted"] as const;
export const PreviewState = z.enum(PREVIEW_STATES);
export type PreviewState = z.infer<typeof PreviewState>;

/** Previews that hold (or are about to hold) a database: they count against PREVIEWS_PER_PROJECT. */
export const LIVE_PREVIEW_STATES: readonly PreviewState[] = ["creating", "ready", "deleting"];

/** `schema.table`, both plain identifiers as pg_dump names them (no quoting, no dots inside). */
export const QualifiedTable = z
  .string()
  .regex(/^[^.\s"]{1,63}\.[^.\s"]{1,63}$/, "expected schema.table")
  .describe("A table as `schema.table`");

export const TTL_HOURS = { min: 1, max: 720, default: 24 } as const;

export const PreviewDatabase = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    project_id: z.string(),
    name: z.string(),
    database_name: z.string(),
    source_kind: z.enum(["backup"]),
    source_backup_id: z.string().nullable(),
    source_backup_key: z.string().nullable(),
    state: PreviewState,
    ttl_expires_at: timestamp,
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "PreviewDatabase" });
export type PreviewDatabase = z.infer<typeof PreviewDatabase>;

export const PreviewCredentials = z
  .object({
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    user: z.string(),
    password: z.string(),
    connection_uri: z.string(),
  })
  .meta({ id: "PreviewCredentials" });
export type PreviewCredentials = z.infer<typeof PreviewCredentials>;

/** What the worker reads from a restore job's row (`restoreOptions` in jobs.payload, @capy/jobs readJobPayload). */
export const RestoreJobOptions = z.object({
  target_kind: RestoreTargetKind,
  tables: z.array(QualifiedTable).nullable(),
  /** Project target: the `pre-restore <job id>` backup job that must complete (verified) first. */
  safety_job_id: z.string().nullable(),
});
export type RestoreJobOptions = z.infer<typeof RestoreJobOptions>;

/** Name of a preview's database and of its login role: `capy_pvw_<the id's ULID>`. */
export function previewDatabaseName(previewId: string): string {
  return `capy_pvw_${previewId.replace(/^pvw_/, "")}`;
}

/** Label of the safety backup a project-target restore takes first. */
export function safetyBackupLabel(restoreJobId: string): string {
  return `pre-restore ${restoreJobId}`;
}

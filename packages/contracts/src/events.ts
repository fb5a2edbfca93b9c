// The platform's events (the outbox of @capy/jobs): `{ id: "evt_…", type, created_at,
// organization_id, project_id, data }`, `data` holding the public object the event is about as
// the API served it when the change committed. Adding an event type is one line in EVENT_DATA.
import { z } from "zod";
import { Backup, Job } from "./resources.js";
import { PreviewDatabase } from "./restores.js";
import { Timestamp } from "./timestamp.js";

/** Each event type and the public shape its `data` holds. */
export const EVENT_DATA = {
  "job.completed": Job,
  "job.failed": Job,
  "job.canceled": Job,
  "backup.completed": Backup,
  "backup.verification_failed": Backup,
  "backup.deleted": Backup,
  "restore.completed": Job,
  "preview.ready": PreviewDatabase,
  "preview.deleted": PreviewDatabase,
} as const;

export type EventType = keyof typeof EVENT_DATA;
export const EVENT_TYPES = Object.keys(EVENT_DATA) as [EventType, ...EventType[]];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA)[T]>;

export const Event = z
  .object({
    id: z.string().describe("Event id (`evt_…`)"),
    type: z.enum(EVENT_TYPES),
    created_at: Timestamp.describe("ISO-8601 UTC timestamp: when the change it reports committed"),
    organization_id: z.string(),
    project_id: z.string(),
    data: z.union([Job, Backup, PreviewDatabase]).describe("The public Job, Backup or PreviewDatabase object as served when the change committed"),
  })
  .meta({ id: "Event" });
export type Event = z.infer<typeof Event>;
